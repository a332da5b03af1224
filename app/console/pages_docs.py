"""Console pages for what the bot knows: ingested documents (upload, re-ingest, last run's errors) and FAQ entries."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ServicesDep
from app.console.session import SessionDep
from app.console.web import csrf_refused, error_page, form_with_csrf, render
from app.errors import BadRequestError, MadoguchiError
from app.faq import create_faq_entry, delete_faq_entry, faq_index_drift, require_log, sync_faq_index, update_faq_entry

router = APIRouter()


# --- documents ---
@router.get("/documents")
async def documents(request: Request, services: ServicesDep, session: SessionDep):
    try:
        manifest = await run_in_threadpool(services.store.manifest)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    docs = sorted((r for r in manifest.values() if r.kind == "doc"), key=lambda r: r.source)
    faq_count = sum(1 for r in manifest.values() if r.kind == "faq")
    last = services.last_ingest
    last_errors = [f for f in (last or {}).get("files", []) if f.get("status") == "failed"]
    return render(request, "documents.html", session=session, nav="documents", documents=docs, faq_count=faq_count,
                  last=last, last_errors=last_errors, docs_dir=str(services.settings.docs_dir))


def _ingest_redirect(report: dict) -> RedirectResponse:
    counts = dict(report.get("counts", {}))
    counts["failed"] = report.get("failed", counts.get("failed", 0))
    return RedirectResponse(f"/console/documents?{urlencode({'done': 'ingest', **counts})}", status_code=303)


@router.post("/documents/upload")
async def upload(request: Request, services: ServicesDep, session: SessionDep):
    """The same code as `POST /api/admin/ingest` with files: save into the docs folder, ingest, report per file."""
    from app.api.admin import ingest_route

    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    try:
        resp = await ingest_route(request, services, None)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/documents")
    report = json.loads(resp.body)
    services.last_ingest = report  # includes files refused before ingest (unsupported type, too large)
    return _ingest_redirect(report)


@router.post("/documents/reingest")
async def reingest(request: Request, services: ServicesDep, session: SessionDep):
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        report = await run_in_threadpool(services.ingest, paths=[services.settings.docs_dir], prune=form.get("prune") == "1")
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/documents")
    data = report.to_dict()
    data["failed"] = len(report.failed)
    return _ingest_redirect(data)


# --- FAQ ---
@router.get("/faq")
async def faq_page(request: Request, services: ServicesDep, session: SessionDep, q: str | None = None):
    try:
        entries = await run_in_threadpool(require_log(services).faq.list, q=q or None)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return render(request, "faq.html", session=session, nav="faq", entries=entries, q=q or "", report=None,
                  drift=await _drift(services))


async def _drift(services) -> int:
    """How many entries the search does not see as saved (e.g. after the chunk store was restored or reset)."""
    try:
        stale, orphans = await run_in_threadpool(faq_index_drift, services, require_log(services).faq.list())
    except MadoguchiError:
        return 0
    return len(stale) + len(orphans)


@router.post("/faq")
async def faq_create(request: Request, services: ServicesDep, session: SessionDep):
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(create_faq_entry, services, question=str(form.get("question") or ""), answer=str(form.get("answer") or ""),
                                category=str(form.get("category") or ""), created_by="console")
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return RedirectResponse("/console/faq?done=faq_saved", status_code=303)


@router.get("/faq.csv")
async def faq_export_csv(services: ServicesDep, session: SessionDep):
    from app.faq_files import faq_csv

    entries = await run_in_threadpool(require_log(services).faq.list)
    return Response(faq_csv(entries), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="madoguchi-faq.csv"'})


@router.get("/faq.xlsx")
async def faq_export_xlsx(services: ServicesDep, session: SessionDep):
    from app.api.faq import XLSX_TYPE
    from app.faq_files import faq_xlsx

    entries = await run_in_threadpool(require_log(services).faq.list)
    data = await run_in_threadpool(faq_xlsx, entries)
    return Response(data, media_type=XLSX_TYPE, headers={"Content-Disposition": 'attachment; filename="madoguchi-faq.xlsx"'})


@router.post("/faq/import")
async def faq_import(request: Request, services: ServicesDep, session: SessionDep):
    from app.api.faq import import_upload

    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    upload = form.get("file")
    try:
        if upload is None or not hasattr(upload, "filename"):
            raise BadRequestError("Choose a .csv or .xlsx file.", ".csv か .xlsx ファイルを選んでください。", code="no_file")
        report = await import_upload(services, upload, created_by="console")
        entries = await run_in_threadpool(require_log(services).faq.list)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return render(request, "faq.html", session=session, nav="faq", entries=entries, q="", report=report, drift=await _drift(services))


@router.post("/faq/reindex")
async def faq_reindex(request: Request, services: ServicesDep, session: SessionDep):
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    try:
        counts = await run_in_threadpool(sync_faq_index, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return RedirectResponse(f"/console/faq?{urlencode({'done': 'reindexed', 'indexed': counts['indexed'], 'removed': counts['removed']})}", status_code=303)


@router.get("/faq/{entry_id}")
async def faq_edit(request: Request, entry_id: int, services: ServicesDep, session: SessionDep):
    try:
        entry = await run_in_threadpool(require_log(services).faq.require, entry_id)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return render(request, "faq_edit.html", session=session, nav="faq", entry=entry)


@router.post("/faq/{entry_id}")
async def faq_update(request: Request, entry_id: int, services: ServicesDep, session: SessionDep):
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(update_faq_entry, services, entry_id, question=str(form.get("question") or ""),
                                answer=str(form.get("answer") or ""), category=str(form.get("category") or ""))
    except MadoguchiError as exc:
        return error_page(request, session, exc, back=f"/console/faq/{entry_id}")
    return RedirectResponse("/console/faq?done=faq_saved", status_code=303)


@router.post("/faq/{entry_id}/delete")
async def faq_delete(request: Request, entry_id: int, services: ServicesDep, session: SessionDep):
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(delete_faq_entry, services, entry_id)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return RedirectResponse("/console/faq?done=faq_deleted", status_code=303)
