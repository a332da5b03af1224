"""The documents page (admins only): what is ingested, the last ingest (of any process: time, runner, per-file
results), upload, re-ingest, and one document in place: delete (with confirmation), replace, re-ingest."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ServicesDep
from app.console.i18n import texts
from app.console.session import SessionDep
from app.console.web import admin_only, csrf_refused, error_page, form_with_csrf, lang_of, render
from app.errors import BadRequestError, MadoguchiError
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
    last = listed.last_ingest
    t = texts(lang_of(request))
    messages = []
    if last and request.query_params.get("done") == "ingest":
        messages.append(
            {
                "kind": "error" if _counts(last).get("failed") else "ok",
                "text": t["ingest_done"].format(summary=_summary(t, last)),
            }
        )
    at = last.get("at") if last else None
    return render(
        request,
        "documents.html",
        session=session,
        nav="documents",
        documents=docs,
        faq_count=faq_count,
        last=last,
        last_at=datetime.fromisoformat(at) if at else None,
        last_counts=_counts(last) if last else {},
        last_summary=_summary(t, last) if last else "",
        last_files=(last or {}).get("files", [])[:MAX_FILES_SHOWN],
        docs_dir=str(services.settings.docs_dir),
        messages=messages,
    )


MAX_FILES_SHOWN = 200
COUNT_ORDER = ("added", "updated", "unchanged", "removed", "failed")


def _counts(report: dict) -> dict[str, int]:
    """The report's counts per status: the one source of the banner, the tags and the failed files."""
    return {k: int(report.get("counts", {}).get(k, 0)) for k in COUNT_ORDER}


def _summary(t: dict[str, str], report: dict) -> str:
    parts = [f"{t['count_' + k]} {n}" for k, n in _counts(report).items() if n]
    return t["list_sep"].join(parts) or "—"


def _ingest_redirect(report: dict) -> RedirectResponse:
    return RedirectResponse("/console/documents?done=ingest", status_code=303)


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
        report = await run_in_threadpool(
            documents.upload_and_ingest, services, uploads, actor=session.actor.name, by="console"
        )
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
        report = await run_in_threadpool(documents.ingest, services, prune=form.get("prune") == "1", by="console")
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/documents")
    return _ingest_redirect(report)


def _doc_id(form) -> str:
    value = form.get("doc_id")
    return value if isinstance(value, str) else ""


@router.post("/delete")
async def delete(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(documents.delete_document, services, _doc_id(form), by=session.actor.name)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/documents")
    return RedirectResponse("/console/documents?done=doc_deleted", status_code=303)


@router.post("/replace")
async def replace(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    f = form.get("file")
    try:
        if f is None or isinstance(f, str):
            raise BadRequestError("Choose a file.", "ファイルを選んでください。", code="no_files")
        upload = Upload(filename=f.filename, data=await f.read())
        report = await run_in_threadpool(documents.replace_document, services, _doc_id(form), upload, by="console")
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/documents")
    return _ingest_redirect(report)


@router.post("/reingest-one")
async def reingest_one(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        report = await run_in_threadpool(documents.reingest_document, services, _doc_id(form), by="console")
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/documents")
    return _ingest_redirect(report)
