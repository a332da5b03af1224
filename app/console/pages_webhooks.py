"""The 「Webhook 配信履歴」 page: every attempt of the outgoing webhook, newest first (app/ops/webhooks.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.api.deps import ServicesDep
from app.console.session import SessionDep
from app.console.web import admin_only, error_page, render
from app.errors import MadoguchiError
from app.ops.webhooks import recent_deliveries

router = APIRouter(prefix="/webhooks")


@router.get("")
async def webhooks_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    try:
        attempts = await run_in_threadpool(recent_deliveries, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return render(
        request,
        "webhooks.html",
        session=session,
        nav="webhooks",
        attempts=attempts,
        target=services.webhooks.url if services.webhooks is not None else None,
    )
