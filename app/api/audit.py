"""Admin route over the audit trail: who changed what, when, with before/after (and its CSV)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.api.deps import AdminDep, ServicesDep, download_response
from app.ops import audit
from app.store.audit import AuditFilter

router = APIRouter(prefix="/api/admin/audit", tags=["admin"])


def _filter(
    services: ServicesDep,
    since: str | None = None,
    until: str | None = None,
    actor: str | None = None,
    action: str | None = Query(None, description="e.g. faq.update; a prefix ending in a dot (faq.) matches a group"),
    target_type: str | None = None,
    target_id: str | None = None,
) -> AuditFilter:
    return audit.audit_filter(
        services,
        since=since,
        until=until,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
    )


FilterDep = Annotated[AuditFilter, Depends(_filter)]


@router.get("")
async def list_audit(
    services: ServicesDep,
    _: AdminDep,
    flt: FilterDep,
    page: int = Query(1, ge=1, le=audit.MAX_PAGE),
    per_page: int = Query(100, ge=1, le=audit.MAX_PER_PAGE),
) -> dict:
    """`{"items": [{"at", "actor", "action", "target_type", "target_id", "before", "after"}], "total", ...}`,
    newest first. `since` / `until`: `YYYY-MM-DD` (the staff's time zone) or an ISO date-time."""
    return await run_in_threadpool(audit.page_of, services, flt, page=page, per_page=per_page)


@router.get(".csv")
async def audit_csv(services: ServicesDep, _: AdminDep, flt: FilterDep, lang: str = "ja") -> Response:
    return download_response(await run_in_threadpool(audit.csv_export, services, flt, lang=lang))
