"""Admin routes (bearer token): ingest (upload or re-ingest the configured folder) and the document list."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.api.deps import AdminDep, ServicesDep
from app.errors import BadRequestError
from ingest.loaders import SUPPORTED

logger = logging.getLogger(__name__)
router = APIRouter(tags=["admin"])

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _safe_name(name: str | None) -> str:
    base = Path((name or "").replace("\\", "/")).name
    if not base or base.startswith(".") or base in ("..",):
        raise BadRequestError(f"Bad file name {name!r}.", f"ファイル名が不正です: {name!r}", code="bad_filename")
    return base


@router.post("/api/admin/ingest")
async def ingest_route(request: Request, services: ServicesDep, _: AdminDep):
    """Upload files (multipart field `files`) into the docs folder and ingest them, or — with no files — re-ingest
    the configured folder (`MADOGUCHI_DOCS_DIR`). JSON `{"paths": [...], "prune": bool}` ingests server-side paths
    (what `madoguchi ingest` sends when a server holds the store). Query `?prune=true` removes missing files."""
    settings = services.settings
    prune = request.query_params.get("prune", "false").lower() in ("1", "true", "yes")
    content_type = request.headers.get("content-type", "")
    rejected: list[dict] = []
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        uploads: list[UploadFile] = [f for f in form.getlist("files") if hasattr(f, "filename")]
        if not uploads:
            raise BadRequestError("No files in the upload (use the form field `files`).", "アップロードにファイルがありません（フォーム項目 `files`）。", code="no_files")
        docs_dir = settings.docs_dir
        docs_dir.mkdir(parents=True, exist_ok=True)
        for up in uploads:
            name = _safe_name(up.filename)
            data = await up.read()
            if Path(name).suffix.lower() not in SUPPORTED:
                rejected.append({"path": name, "doc_id": name, "status": "failed",
                                 "error": f"Unsupported file type; supported: {', '.join(sorted(SUPPORTED))}",
                                 "error_ja": f"対応していないファイル形式です。対応形式: {', '.join(sorted(SUPPORTED))}"})
                continue
            if len(data) > MAX_UPLOAD_BYTES:
                rejected.append({"path": name, "doc_id": name, "status": "failed", "error": "File over 50 MB.", "error_ja": "50MB を超えるファイルです。"})
                continue
            (docs_dir / name).write_bytes(data)
        paths = [docs_dir]
    elif content_type.startswith("application/json"):
        body = await request.json()
        raw = body.get("paths") if isinstance(body, dict) else None
        if raw is not None and (not isinstance(raw, list) or not all(isinstance(p, str) for p in raw)):
            raise BadRequestError("`paths` must be a list of strings.", "`paths` は文字列のリストで指定してください。", code="bad_paths")
        prune = bool(body.get("prune", prune)) if isinstance(body, dict) else prune
        paths = [Path(p) for p in raw] if raw else [settings.docs_dir]
    else:
        paths = [settings.docs_dir]
    report = await run_in_threadpool(services.ingest, paths=paths, prune=prune)
    data = report.to_dict()
    data["files"].extend(rejected)
    data["failed"] = len(report.failed) + len(rejected)
    return JSONResponse(data)


@router.get("/api/admin/documents")
def documents(services: ServicesDep, _: AdminDep) -> dict:
    records = sorted(services.store.manifest().values(), key=lambda r: r.source)
    return {
        "documents": [
            {"doc_id": r.doc_id, "title": r.title, "source": r.source, "category": r.category, "chunks": r.chunks,
             "hash": r.hash, "ingested_at": r.ingested_at, "status": r.status, "error": r.error, "kind": r.kind}
            for r in records
        ],
        "corpus_version": services.index.snapshot.version if services.index.snapshot else None,
        "last_ingest": services.last_ingest,
    }
