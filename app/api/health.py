"""`GET /healthz` (the process is up) and `GET /readyz` (the index is loaded and the store reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep

router = APIRouter(tags=["health"])  # no prefix: probes live at the root


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep):
    index = services.index
    snap = index.snapshot
    body: dict[str, object] = {
        "status": "ready",
        "corpus_version": snap.version if snap else None,
        "chunks": len(snap) if snap else 0,
    }  # no store location or error text: a public probe says nothing of paths or hosts (the logs have them)
    job = services.reembed_job
    if job is not None:  # a background re-embed: answers keep coming from the old vectors until it swaps
        body["reembed"] = {k: job.to_dict()[k] for k in ("state", "done", "total")}  # no model names or paths
    if snap is None or index.unavailable:
        body["status"] = "not_ready"
        body["detail"] = (
            "文書ストア（Chroma）に接続できません / the document store (Chroma) is unreachable"
            if index.unavailable
            else "索引を読み込み中です / the index is loading"
        )
        return JSONResponse(body, status_code=503)
    return body
