"""Admin routes for documents (bearer token of an admin account or the shared token): ingest (upload, given paths, or
the configured folder), the list, and one document in place: delete, replace (upload over), re-ingest."""

from __future__ import annotations

import json

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
    (what `madoguchi ingest` sends when a server holds the store, with `"by": "cli"` so the documents page says who
    ran it), inside that folder only (others are a 403). Query `?prune=true` removes missing files."""
    prune = request.query_params.get("prune", "false").lower() in ("1", "true", "yes")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        uploads = [
            Upload(filename=f.filename, data=await f.read()) for f in form.getlist("files") if not isinstance(f, str)
        ]
        return await run_in_threadpool(documents.upload_and_ingest, services, uploads, prune=prune, actor=actor.name)
    paths = None
    by = "api"
    if content_type.startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, nesting too deep
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
        paths = documents.paths_in_docs_dir(services, raw) if raw else None
        if isinstance(body, dict) and body.get("by") == "cli":  # `madoguchi ingest` sent it through the server
            by = "cli"
    return await run_in_threadpool(documents.ingest, services, paths=paths, prune=prune, by=by)


@router.get("/documents")
def list_documents(services: ServicesDep, _: AdminOnlyDep) -> dict:
    return documents.list_documents(services).to_dict()


@router.delete("/documents/{doc_id:path}")
async def delete_document(doc_id: str, services: ServicesDep, actor: AdminOnlyDep) -> dict:
    """Remove the document from answers at once (its chunks, its record and its file in the docs folder)."""
    return await run_in_threadpool(documents.delete_document, services, doc_id, by=actor.name)


@router.post("/documents/{doc_id:path}/reingest")
async def reingest_document(doc_id: str, services: ServicesDep, _: AdminOnlyDep) -> dict:
    return await run_in_threadpool(documents.reingest_document, services, doc_id, by="api")


@router.put("/documents/{doc_id:path}")
async def replace_document(doc_id: str, request: Request, services: ServicesDep, _: AdminOnlyDep) -> dict:
    """Upload over the document (multipart field `file`, same file type) and ingest it."""
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise BadRequestError(
            "Send the new file as the multipart field `file`.",
            "新しいファイルをフォーム項目 `file` で送ってください。",
            code="no_files",
        )
    data = Upload(filename=upload.filename, data=await upload.read())
    return await run_in_threadpool(documents.replace_document, services, doc_id, data, by="api")
