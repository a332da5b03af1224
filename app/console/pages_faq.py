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
from app.console.web import csrf_refused, error_page, form_action, form_with_csrf, render
from app.errors import BadRequestError, MadoguchiError
from app.ops import faq, faq_citations, faq_list, wordings
from app.services import Services

router = APIRouter(prefix="/faq")


def _proposals(services: Services) -> list:
    try:
        return wordings.list_proposals(services)
    except MadoguchiError:
        return []


def _drift(services: Services) -> int:
    try:
        return faq.drift_count(services)
    except MadoguchiError:
        return 0


def _list_context(q: str | None, category: str | None, origin: str | None) -> dict:
    filters = {k: v for k, v in (("q", q), ("category", category), ("origin", origin)) if v}
    return {
        "q": q or "",
        "category": category or "",
        "origin": origin or "",
        "origins": faq_list.ORIGINS,
        "filters": urlencode(filters),
    }


@router.get("")
async def faq_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    q: str | None = None,
    category: str | None = None,
    origin: str | None = None,
) -> Response:
    """One FAQ: the sheet rows and the database entries, searchable and filtered by category and origin."""
    try:
        items = await run_in_threadpool(
            faq_list.list_items, services, q=q or None, category=category or None, origin=origin or None
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return render(
        request,
        "faq.html",
        session=session,
        nav="faq",
        entries=items,
        report=None,
        drift=await run_in_threadpool(_drift, services),
        proposals=await run_in_threadpool(_proposals, services),
        **_list_context(q, category, origin),
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
async def faq_export_csv(
    services: ServicesDep,
    session: SessionDep,
    q: str | None = None,
    category: str | None = None,
    origin: str | None = None,
) -> Response:
    filters = {"q": q or None, "category": category or None, "origin": origin or None}
    return download_response(await run_in_threadpool(faq_list.export_csv, services, **filters))


@router.get(".xlsx")
async def faq_export_xlsx(
    services: ServicesDep,
    session: SessionDep,
    q: str | None = None,
    category: str | None = None,
    origin: str | None = None,
) -> Response:
    filters = {"q": q or None, "category": category or None, "origin": origin or None}
    return download_response(await run_in_threadpool(faq_list.export_xlsx, services, **filters))


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
        entries = await run_in_threadpool(faq_list.list_items, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    return render(
        request,
        "faq.html",
        session=session,
        nav="faq",
        entries=entries,
        report=report.to_dict(),
        drift=await run_in_threadpool(_drift, services),
        proposals=await run_in_threadpool(_proposals, services),
        **_list_context(None, None, None),
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


@router.get("/item/{key}")
async def faq_item_edit(request: Request, key: str, services: ServicesDep, session: SessionDep) -> Response:
    """Edit form of a sheet row (saved as a staff override of it)."""
    try:
        item = await run_in_threadpool(faq_list.get_item, services, key)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    if item.entry_id is not None:
        return RedirectResponse(f"/console/faq/{item.entry_id}", status_code=303)
    return render(request, "faq_item.html", session=session, nav="faq", item=item)


@router.post("/item/{key}")
async def faq_item_save(request: Request, key: str, services: ServicesDep, session: SessionDep) -> Response:
    return await form_action(
        request,
        session,
        lambda form: faq_list.edit_item(
            services,
            key,
            question=str(form.get("question") or ""),
            answer=str(form.get("answer") or ""),
            category=str(form.get("category") or "") or None,
            actor=session.actor.name,
        ),
        back=f"/console/faq/item/{key}",
        done="/console/faq?done=faq_saved",
    )


@router.post("/item/{key}/delete")
async def faq_item_delete(request: Request, key: str, services: ServicesDep, session: SessionDep) -> Response:
    """Delete a sheet row: a tombstone hides it (also after re-ingest) until 「元に戻す」."""
    return await form_action(
        request,
        session,
        lambda _: faq_list.delete_item(services, key, actor=session.actor.name),
        back="/console/faq",
        done="/console/faq?done=faq_deleted",
    )


@router.post("/item/{key}/keep")
async def faq_item_keep(request: Request, key: str, services: ServicesDep, session: SessionDep) -> Response:
    return await form_action(
        request,
        session,
        lambda _: faq_list.keep_override(services, key),
        back="/console/faq",
        done="/console/faq?done=faq_saved",
    )


@router.post("/proposals/{proposal_id}/{decision}")
async def faq_proposal(
    request: Request, proposal_id: int, decision: str, services: ServicesDep, session: SessionDep
) -> Response:
    """One click: 採用 (the wording joins its entry, searchable at once) or 却下."""
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    decide = {"accept": wordings.accept, "reject": wordings.reject}.get(decision)
    try:
        if decide is None:
            raise BadRequestError(
                "Unknown decision (accept or reject).", "不明な操作です（採用か却下）。", code="bad_decision"
            )
        await run_in_threadpool(decide, services, proposal_id, by=session.actor.name)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/faq")
    done = "proposal_accepted" if decision == "accept" else "proposal_rejected"
    return RedirectResponse(f"/console/faq?done={done}", status_code=303)


@router.post("/{entry_id}/confirm")
async def faq_confirm(request: Request, entry_id: int, services: ServicesDep, session: SessionDep) -> Response:
    """要確認 → 確認済み: the staff checked the entry against its changed articles."""
    return await form_action(
        request,
        session,
        lambda _: faq_citations.confirm(services, entry_id),
        back="/console/faq",
        done="/console/faq?done=faq_saved",
    )


@router.post("/{entry_id}/wordings")
async def faq_add_wording(request: Request, entry_id: int, services: ServicesDep, session: SessionDep) -> Response:
    return await form_action(
        request,
        session,
        lambda form: faq.add_wordings(
            services, entry_id, [str(form.get("wording") or "")], created_by=session.actor.name
        ),
        back=f"/console/faq/{entry_id}",
        done=f"/console/faq/{entry_id}?done=wording_saved",
    )


@router.post("/{entry_id}/wordings/remove")
async def faq_remove_wording(request: Request, entry_id: int, services: ServicesDep, session: SessionDep) -> Response:
    return await form_action(
        request,
        session,
        lambda form: faq.remove_wording(services, entry_id, str(form.get("wording") or "")),
        back=f"/console/faq/{entry_id}",
        done=f"/console/faq/{entry_id}?done=wording_saved",
    )


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
    return await form_action(
        request,
        session,
        lambda form: faq.update_entry(
            services,
            entry_id,
            question=str(form.get("question") or ""),
            answer=str(form.get("answer") or ""),
            category=str(form.get("category") or ""),
            actor=session.actor.name,
        ),
        back=f"/console/faq/{entry_id}",
        done="/console/faq?done=faq_saved",
    )


@router.post("/{entry_id}/delete")
async def faq_delete(request: Request, entry_id: int, services: ServicesDep, session: SessionDep) -> Response:
    return await form_action(
        request,
        session,
        lambda _: faq.delete_entry(services, entry_id, actor=session.actor.name),
        back="/console/faq",
        done="/console/faq?done=faq_deleted",
    )


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
