"""Admin routes for switching the embedder of the store in the background (app/ops/reembed.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.deps import AdminDep, AdminOnlyDep, ServicesDep
from app.ops.audit import record_audit
from app.ops.reembed import start_reembed

router = APIRouter(prefix="/api/admin", tags=["admin"])


class ReembedRequest(BaseModel):
    embedder: str = Field(min_length=1, max_length=500, description="e.g. sentence-transformers:cl-nagoya/ruri-v3-130m")


@router.post("/reembed", status_code=202)
async def reembed(body: ReembedRequest, services: ServicesDep, actor: AdminOnlyDep) -> dict:
    """Start re-embedding the store with another embedder; answers keep coming from the old vectors until the swap.
    409 while one is running; the new model is loaded before this returns (a model that cannot load fails here).
    Admin accounts and the shared token only; audited."""
    before = services.embedder.name
    job = await run_in_threadpool(start_reembed, services, embedder=body.embedder)
    await run_in_threadpool(
        record_audit,
        services,
        actor=actor.name,
        action="store.reembed",
        target_type="store",
        target_id=services.store.location,
        before={"embedder": before},
        after={"embedder": job.embedder},
    )
    return job.to_dict()


@router.get("/reembed")
def reembed_status(services: ServicesDep, _: AdminDep):
    job = services.reembed_job
    if job is None:
        return JSONResponse({"state": "none", "embedder": services.embedder.name})
    return job.to_dict()
