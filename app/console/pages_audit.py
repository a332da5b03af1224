"""「変更履歴」: the audit trail with filters (since, until, who, action) and its CSV export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.api.deps import ServicesDep, download_response
from app.console.session import SessionDep
from app.console.web import error_page, lang_of, render
from app.errors import MadoguchiError
from app.ops import audit

router = APIRouter(prefix="/audit")
SHOWN = 200


def _filter(request: Request, services):
    p = request.query_params
    return audit.audit_filter(
        services, since=p.get("from"), until=p.get("to"), actor=p.get("actor"), action=p.get("action")
    )


@router.get("")
async def audit_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    p = request.query_params
    try:
        flt = _filter(request, services)
        rows = await run_in_threadpool(audit.entries, services, flt, limit=SHOWN)
        actors = await run_in_threadpool(audit.actors, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/audit")
    return render(
        request,
        "audit.html",
        session=session,
        nav="audit",
        rows=rows,
        actors=actors,
        actions=audit.ACTIONS,
        shown=SHOWN,
        f={k: p.get(k, "") for k in ("from", "to", "actor", "action")},
        query=request.url.query,
    )


@router.get(".csv")
async def audit_csv(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    try:
        flt = _filter(request, services)
        export = await run_in_threadpool(audit.csv_export, services, flt, lang=lang_of(request))
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/audit")
    return download_response(export)
