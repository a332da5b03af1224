"""Admin routes for documents (bearer token of an admin account or the shared token): ingest (upload, given paths, or the configured folder) and the list."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from app.api.deps import AdminOnlyDep, ServicesDep, has_lone_surrogate
from app.errors import BadRequestError
from app.ops import documents
from app.ops.documents import Upload

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.post("/ingest")
async def ingest(request: Request, services: ServicesDep, actor: AdminOnlyDep) -> dict:
    """Upload files (multipart field `files`) into the docs folder and ingest them, or — with no files — re-ingest
    the configured folder (`MADOGUCHI_DOCS_DIR`). JSON `{"paths": [...], "prune": bool}` ingests server-side paths
    (what `madoguchi ingest` sends when a server holds the store). Query `?prune=true` removes missing files."""
    prune = request.query_params.get("prune", "false").lower() in ("1", "true", "yes")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        uploads = [
            Upload(filename=f.filename, data=await f.read()) for f in form.getlist("files") if not isinstance(f, str)
        ]
        return await run_in_threadpool(documents.upload_and_ingest, services, uploads, prune=prune, actor=actor.name)
    paths = None
    if content_type.startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            raise BadRequestError(
                'The body is not valid JSON: send `{"paths": [...], "prune": false}` or no body.',
                '本文が正しい JSON ではありません。`{"paths": [...], "prune": false}` を送るか、本文なしで送ってください。',
                code="bad_json",
            ) from None
        raw = body.get("paths") if isinstance(body, dict) else None
        if raw is not None and (
            not isinstance(raw, list) or not all(isinstance(p, str) and not has_lone_surrogate(p) for p in raw)
        ):
            raise BadRequestError(
                "`paths` must be a list of strings.", "`paths` は文字列のリストで指定してください。", code="bad_paths"
            )
        prune = bool(body.get("prune", prune)) if isinstance(body, dict) else prune
        paths = [Path(p) for p in raw] if raw else None
    return await run_in_threadpool(documents.ingest, services, paths=paths, prune=prune)


@router.get("/documents")
def list_documents(services: ServicesDep, _: AdminOnlyDep) -> dict:
    return documents.list_documents(services).to_dict()
