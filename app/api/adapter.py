"""Admin routes for the query adapter the deployment trains on its own use (app/ops/adapt.py): status, training
now (waits for the result: seconds to a minute) and rollback. Every replica follows a change within
`MADOGUCHI_ADAPTER_REFRESH_SECONDS`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from app.api.deps import AdminDep, AdminOnlyDep, ServicesDep
from app.ops import adapt

router = APIRouter(prefix="/api/admin/adapter", tags=["admin", "adapter"])


@router.get("")
async def adapter_status(services: ServicesDep, _: AdminDep) -> dict:
    """The active version (None: the shipped general adapter is used) and the last ten versions."""
    return await run_in_threadpool(adapt.status, services)


@router.post("/train")
async def train(services: ServicesDep, actor: AdminOnlyDep) -> dict:
    """Train on the pairs the log holds now; swapped in only if held-out rank-1 does not drop. Keys: `pairs`,
    `heldout`, `heldout_hit1_before`, `heldout_hit1_after`, `swapped`, `version`, `active_version`, `reason`."""
    report = await run_in_threadpool(adapt.adapt, services, by=actor.name)
    return report.to_dict()


@router.post("/rollback")
async def rollback(services: ServicesDep, _: AdminOnlyDep) -> dict:
    """Serve the previous version (`active` None: back to the shipped adapter)."""
    now = await run_in_threadpool(adapt.rollback, services)
    return {"active": now.to_dict() if now else None}
