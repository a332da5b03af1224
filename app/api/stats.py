"""`GET /api/admin/stats`: questions, deflection and helpful rates, staff time saved, per day/week and category."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from app.api.deps import AdminDep, ServicesDep
from app.ops import review

router = APIRouter(prefix="/api/admin/stats", tags=["admin"])


@router.get("")
async def stats(
    services: ServicesDep,
    _: AdminDep,
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    bucket: str = Query("day", description="day | week | month"),
    category: str | None = None,
    origin: str | None = Query(
        None, alias="channel", description="Only questions of this origin (api, slack, cli, …)."
    ),
) -> dict:
    return await run_in_threadpool(
        review.stats, services, since=from_, until=to, bucket=bucket, category=category, origin=origin
    )
