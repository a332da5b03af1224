"""The monthly report download and the 部署 page (the user → department mapping the report's 部署別 uses)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ServicesDep, download_response
from app.console.i18n import texts
from app.console.session import SessionDep
from app.console.web import csrf_refused, error_page, form_with_csrf, lang_of, render
from app.errors import MadoguchiError
from app.ops import departments, report, report_xlsx

router = APIRouter()


@router.get("/report.xlsx")
async def report_download(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    try:
        data = await run_in_threadpool(report.monthly_report, services, month=request.query_params.get("month"))
        export = await run_in_threadpool(report_xlsx.report_export, data)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return download_response(export)


@router.get("/departments")
async def departments_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    try:
        rows = await run_in_threadpool(departments.list_rows, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    messages = []
    saved = request.query_params.get("saved")
    if saved and saved.isdigit():
        messages.append({"kind": "ok", "text": texts(lang_of(request))["departments_saved"].format(n=int(saved))})
    return render(request, "departments.html", session=session, nav="departments", rows=rows, messages=messages)


@router.post("/departments")
async def departments_upload(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    upload = form.get("file")
    data = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    try:
        count = await run_in_threadpool(departments.replace_from_csv, services, data, by="console")
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/departments")
    return RedirectResponse(f"/console/departments?saved={count}", status_code=303)
