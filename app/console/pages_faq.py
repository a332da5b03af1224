"""FAQ pages: the entries (add, edit, delete), each entry's history with one-click restore, import and export (the
same files as the admin API), re-index."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from app.api.deps import ServicesDep, download_response
from app.console.session import SessionDep
from app.console.web import csrf_refused, error_page, form_with_csrf, render
from app.errors import BadRequestError, MadoguchiError
from app.ops import faq
from app.services import Services

router = APIRouter(prefix="/faq")


def _drift(services: Services) -> int:
    try:
        return faq.drift_count(services)
    except MadoguchiError:
        return 0


@router.get("")
async def faq_page(request: Request, services: ServicesDep, session: SessionDep, q: str | None = None) -> Response:
    try:
        entries = await run_in_threadpool(faq.list_entries, services, q=q or None)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return render(
        request,
        "faq.html",
        session=session,
        nav="faq",
        entries=entries,
        q=q or "",
        report=None,
        drift=await run_in_threadpool(_drift, services),
    )


@router.post("")
async def faq_create(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(
            faq.create_entry,
            services,
            question=str(form.get("question") or ""),
            answer=str(form.get("answer") or ""),
            category=str(form.get("category") or ""),
            created_by=session.actor.name,
            actor=session.actor.name,
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return RedirectResponse("/console/faq?done=faq_saved", status_code=303)


@router.get(".csv")
async def faq_export_csv(services: ServicesDep, session: SessionDep) -> Response:
    return download_response(await run_in_threadpool(faq.export_csv, services))


@router.get(".xlsx")
async def faq_export_xlsx(services: ServicesDep, session: SessionDep) -> Response:
    return download_response(await run_in_threadpool(faq.export_xlsx, services))


@router.post("/import")
async def faq_import(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise BadRequestError(
                "Choose a .csv or .xlsx file.", ".csv か .xlsx ファイルを選んでください。", code="no_file"
            )
        data = await upload.read()
        report = await run_in_threadpool(
            faq.import_file,
            services,
            filename=upload.filename,
            data=data,
            created_by=session.actor.name,
            actor=session.actor.name,
        )
        entries = await run_in_threadpool(faq.list_entries, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return render(
        request,
        "faq.html",
        session=session,
        nav="faq",
        entries=entries,
        q="",
        report=report.to_dict(),
        drift=await run_in_threadpool(_drift, services),
    )


@router.post("/reindex")
async def faq_reindex(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    try:
        counts = await run_in_threadpool(faq.sync_index, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    done = {"done": "reindexed", "indexed": counts["indexed"], "removed": counts["removed"]}
    return RedirectResponse(f"/console/faq?{urlencode(done)}", status_code=303)


@router.get("/{entry_id}")
async def faq_edit(request: Request, entry_id: int, services: ServicesDep, session: SessionDep) -> Response:
    try:
        entry = await run_in_threadpool(faq.get_entry, services, entry_id)
        changes = await run_in_threadpool(faq.history, services, entry_id)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return render(request, "faq_edit.html", session=session, nav="faq", entry=entry, changes=changes)


@router.post("/{entry_id}")
async def faq_update(request: Request, entry_id: int, services: ServicesDep, session: SessionDep) -> Response:
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(
            faq.update_entry,
            services,
            entry_id,
            question=str(form.get("question") or ""),
            answer=str(form.get("answer") or ""),
            category=str(form.get("category") or ""),
            actor=session.actor.name,
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back=f"/console/faq/{entry_id}")
    return RedirectResponse("/console/faq?done=faq_saved", status_code=303)


@router.post("/{entry_id}/delete")
async def faq_delete(request: Request, entry_id: int, services: ServicesDep, session: SessionDep) -> Response:
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(faq.delete_entry, services, entry_id, actor=session.actor.name)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return RedirectResponse("/console/faq?done=faq_deleted", status_code=303)


@router.post("/{entry_id}/restore")
async def faq_restore(request: Request, entry_id: int, services: ServicesDep, session: SessionDep) -> Response:
    """「この版に戻す」: put back the version an earlier change left the entry in (recorded as faq.restore)."""
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        change_id = int(str(form.get("change") or "0"))
    except ValueError:
        change_id = 0
    try:
        await run_in_threadpool(faq.restore_version, services, entry_id, change_id=change_id, actor=session.actor.name)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back=f"/console/faq/{entry_id}")
    return RedirectResponse(f"/console/faq/{entry_id}?done=faq_restored", status_code=303)
