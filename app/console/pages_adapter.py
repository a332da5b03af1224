"""The 「検索の学習」 page: which query adapter version is served, how it was checked, training now and rollback
(app/ops/adapt.py). Training runs in a background thread so the page never waits for it."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ServicesDep
from app.console.session import SessionDep
from app.console.web import admin_only, csrf_refused, error_page, form_with_csrf, render
from app.errors import MadoguchiError
from app.ops import adapt

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/adapter")


@router.get("")
async def adapter_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    try:
        status = await run_in_threadpool(adapt.status, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return render(
        request,
        "adapter.html",
        session=session,
        nav="dashboard",
        status=status,
        training=adapt.training_now(),
        flash=request.query_params.get("done") or "",
    )


def _train_in_background(services, who: str) -> None:
    try:
        adapt.adapt(services, by=who)
    except Exception:  # noqa: BLE001 - a background training failure is logged; the served adapter stays
        logger.exception("query adapter training from the console failed")


@router.post("/train")
async def train(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    if not adapt.training_now():
        who = session.actor.name
        threading.Thread(target=_train_in_background, args=(services, who), daemon=True, name="adapt").start()
    return RedirectResponse("/console/adapter?" + urlencode({"done": "started"}), status_code=303)


@router.post("/rollback")
async def rollback(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(adapt.rollback, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/adapter")
    return RedirectResponse("/console/adapter?" + urlencode({"done": "rolled_back"}), status_code=303)
