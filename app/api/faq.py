"""Admin routes for FAQ entries: CRUD, CSV/XLSX import and export. A saved entry is searchable at once."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from app.api.deps import AdminDep, ServicesDep
from app.faq import create_faq_entry, delete_faq_entry, import_faq_rows, require_log, sync_faq_index, update_faq_entry
from app.faq_files import faq_csv, faq_xlsx, read_faq_file

router = APIRouter(tags=["admin", "faq"])

MAX_IMPORT_BYTES = 20 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FaqBody(BaseModel):
    question: str = Field(..., min_length=1, max_length=2000)
    answer: str = Field(..., min_length=1, max_length=20000)
    category: str | None = Field(None, description="attendance | expense | supplies | other (or 勤怠 / 経費 / 備品 / その他); default other.")


@router.get("/api/admin/faq")
async def list_faq(services: ServicesDep, _: AdminDep, q: str | None = None, category: str | None = None) -> dict:
    entries = await run_in_threadpool(require_log(services).faq.list, q=q, category=category)
    return {"entries": [e.to_dict() for e in entries], "total": len(entries)}


@router.post("/api/admin/faq", status_code=201)
async def create_faq(body: FaqBody, services: ServicesDep, _: AdminDep) -> dict:
    entry = await run_in_threadpool(create_faq_entry, services, question=body.question, answer=body.answer,
                                    category=body.category, created_by="admin")
    return entry.to_dict()


@router.get("/api/admin/faq.csv")
async def export_csv(services: ServicesDep, _: AdminDep) -> Response:
    entries = await run_in_threadpool(require_log(services).faq.list)
    return Response(faq_csv(entries), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="madoguchi-faq.csv"'})


@router.get("/api/admin/faq.xlsx")
async def export_xlsx(services: ServicesDep, _: AdminDep) -> Response:
    entries = await run_in_threadpool(require_log(services).faq.list)
    data = await run_in_threadpool(faq_xlsx, entries)
    return Response(data, media_type=XLSX_TYPE, headers={"Content-Disposition": 'attachment; filename="madoguchi-faq.xlsx"'})


async def import_upload(services, upload: UploadFile, *, created_by: str | None) -> dict:
    data = await upload.read()
    if len(data) > MAX_IMPORT_BYTES:
        from app.errors import BadRequestError

        raise BadRequestError("File over 20 MB.", "20MB を超えるファイルです。", code="file_too_large")
    rows = read_faq_file(upload.filename or "", data)
    report = await run_in_threadpool(import_faq_rows, services, rows, created_by=created_by)
    return report.to_dict()


@router.post("/api/admin/faq/import")
async def import_faq(file: UploadFile, services: ServicesDep, _: AdminDep) -> dict:
    """Multipart field `file`: a .csv or .xlsx with columns question, answer, category. Same question → updated."""
    return await import_upload(services, file, created_by="admin")


@router.post("/api/admin/faq/reindex")
async def reindex_faq(services: ServicesDep, _: AdminDep) -> dict:
    """Make the searchable copy match the database (after restoring a backup or resetting the chunk store)."""
    return await run_in_threadpool(sync_faq_index, services)


@router.get("/api/admin/faq/{entry_id}")
async def get_faq(entry_id: int, services: ServicesDep, _: AdminDep) -> dict:
    entry = await run_in_threadpool(require_log(services).faq.require, entry_id)
    return entry.to_dict()


@router.put("/api/admin/faq/{entry_id}")
async def update_faq(entry_id: int, body: FaqBody, services: ServicesDep, _: AdminDep) -> dict:
    entry = await run_in_threadpool(update_faq_entry, services, entry_id, question=body.question, answer=body.answer,
                                    category=body.category)
    return entry.to_dict()


@router.delete("/api/admin/faq/{entry_id}")
async def delete_faq(entry_id: int, services: ServicesDep, _: AdminDep) -> JSONResponse:
    entry = await run_in_threadpool(delete_faq_entry, services, entry_id)
    return JSONResponse({"deleted": entry.to_dict()})
