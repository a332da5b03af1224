"""Admin routes of the monthly KPI report: the figures as JSON, the Excel file, and the user → department mapping
its per-department figures use."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.api.deps import AdminDep, ServicesDep, download_response
from app.ops import departments, report, report_xlsx

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/report")
async def monthly_report(services: ServicesDep, _: AdminDep, month: str | None = None) -> dict:
    """The KPI figures of one month (`YYYY-MM`, default: this month in MADOGUCHI_TIMEZONE) and its 12-month trend."""
    return await run_in_threadpool(report.monthly_report, services, month=month)


@router.get("/report.xlsx")
async def monthly_report_xlsx(services: ServicesDep, _: AdminDep, month: str | None = None) -> Response:
    """The same as an Excel workbook: sheets 概要, カテゴリ別, 部署別, 未解決トップ, 推移."""
    data = await run_in_threadpool(report.monthly_report, services, month=month)
    return download_response(await run_in_threadpool(report_xlsx.report_export, data))


@router.get("/departments")
async def list_departments(services: ServicesDep, _: AdminDep) -> dict:
    rows = await run_in_threadpool(departments.list_rows, services)
    return {"departments": [r.to_dict() for r in rows], "total": len(rows)}


@router.put("/departments")
async def replace_departments(request: Request, services: ServicesDep, _: AdminDep) -> dict:
    """Replace the whole mapping with a CSV body (`user_id,department` per line; UTF-8 or Shift_JIS)."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        body = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    count = await run_in_threadpool(departments.replace_from_csv, services, body, by="api")
    return {"users": count}
