"""The documents page (admins only): what is ingested, the last run's per-file errors, upload and re-ingest."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ServicesDep
from app.console.session import SessionDep
from app.console.web import admin_only, csrf_refused, error_page, form_with_csrf, render
from app.errors import MadoguchiError
from app.ops import documents
from app.ops.documents import Upload

router = APIRouter(prefix="/documents")


@router.get("")
async def documents_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    try:
        listed = await run_in_threadpool(documents.list_documents, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    docs = [r for r in listed.documents if r.kind == "doc"]
    faq_count = sum(1 for r in listed.documents if r.kind == "faq")
    return render(
        request,
        "documents.html",
        session=session,
        nav="documents",
        documents=docs,
        faq_count=faq_count,
        last=services.last_ingest,
        last_errors=documents.failed_in_last_ingest(services),
        docs_dir=str(services.settings.docs_dir),
    )


def _ingest_redirect(report: dict) -> RedirectResponse:
    counts = dict(report.get("counts", {}))
    counts["failed"] = report.get("failed", counts.get("failed", 0))
    return RedirectResponse(f"/console/documents?{urlencode({'done': 'ingest', **counts})}", status_code=303)


@router.post("/upload")
async def upload(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    """Like `POST /api/admin/ingest` with files: save into the docs folder, ingest, report per file."""
    if (denied := admin_only(request, session)) is not None:
        return denied
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        uploads = [
            Upload(filename=f.filename, data=await f.read()) for f in form.getlist("files") if not isinstance(f, str)
        ]
        report = await run_in_threadpool(documents.upload_and_ingest, services, uploads, actor=session.actor.name)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/documents")
    return _ingest_redirect(report)


@router.post("/reingest")
async def reingest(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        report = await run_in_threadpool(documents.ingest, services, prune=form.get("prune") == "1")
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/documents")
    return _ingest_redirect(report)
