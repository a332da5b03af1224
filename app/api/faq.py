"""Admin routes for FAQ entries: CRUD, CSV/XLSX import and export. A saved entry is searchable at once."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from app.api.deps import AdminDep, JsonBody, ServicesDep, download_response
from app.ops import faq

router = APIRouter(prefix="/api/admin/faq", tags=["admin", "faq"])


class FaqBody(JsonBody):
    question: str = Field(..., min_length=1, max_length=2000)
    answer: str = Field(..., min_length=1, max_length=20000)
    category: str | None = Field(
        None, description="attendance | expense | supplies | other (or 勤怠 / 経費 / 備品 / その他); default other."
    )


@router.get("")
async def list_faq(services: ServicesDep, _: AdminDep, q: str | None = None, category: str | None = None) -> dict:
    entries = await run_in_threadpool(faq.list_entries, services, q=q, category=category)
    return {"entries": [e.to_dict() for e in entries], "total": len(entries)}


@router.post("", status_code=201)
async def create_faq(body: FaqBody, services: ServicesDep, actor: AdminDep) -> dict:
    entry = await run_in_threadpool(
        faq.create_entry,
        services,
        question=body.question,
        answer=body.answer,
        category=body.category,
        created_by=actor.name,
        actor=actor.name,
    )
    return entry.to_dict()


@router.get(".csv")
async def export_csv(services: ServicesDep, _: AdminDep) -> Response:
    return download_response(await run_in_threadpool(faq.export_csv, services))


@router.get(".xlsx")
async def export_xlsx(services: ServicesDep, _: AdminDep) -> Response:
    return download_response(await run_in_threadpool(faq.export_xlsx, services))


@router.post("/import")
async def import_faq(file: UploadFile, services: ServicesDep, actor: AdminDep) -> dict:
    """Multipart field `file`: a .csv or .xlsx with columns question, answer, category. Same question → updated."""
    data = await file.read()
    report = await run_in_threadpool(
        faq.import_file, services, filename=file.filename, data=data, created_by=actor.name, actor=actor.name
    )
    return report.to_dict()


@router.post("/reindex")
async def reindex_faq(services: ServicesDep, _: AdminDep) -> dict:
    """Make the searchable copy match the database (after restoring a backup or resetting the chunk store)."""
    return await run_in_threadpool(faq.sync_index, services)


@router.get("/{entry_id}")
async def get_faq(entry_id: int, services: ServicesDep, _: AdminDep) -> dict:
    entry = await run_in_threadpool(faq.get_entry, services, entry_id)
    return entry.to_dict()


@router.put("/{entry_id}")
async def update_faq(entry_id: int, body: FaqBody, services: ServicesDep, actor: AdminDep) -> dict:
    entry = await run_in_threadpool(
        faq.update_entry,
        services,
        entry_id,
        question=body.question,
        answer=body.answer,
        category=body.category,
        actor=actor.name,
    )
    return entry.to_dict()


@router.delete("/{entry_id}")
async def delete_faq(entry_id: int, services: ServicesDep, actor: AdminDep) -> dict:
    entry = await run_in_threadpool(faq.delete_entry, services, entry_id, actor=actor.name)
    return {"deleted": entry.to_dict()}


@router.get("/{entry_id}/history")
async def faq_history(entry_id: int, services: ServicesDep, _: AdminDep) -> dict:
    """The entry's changes, newest first (audit rows with `before` / `after`)."""
    items = await run_in_threadpool(faq.history, services, entry_id)
    return {"items": [e.to_dict() for e in items]}


class RestoreBody(JsonBody):
    change_id: int = Field(..., ge=1, description="The audit row whose `after` version is put back.")


@router.post("/{entry_id}/restore")
async def restore_faq(entry_id: int, body: RestoreBody, services: ServicesDep, actor: AdminDep) -> dict:
    entry = await run_in_threadpool(faq.restore_version, services, entry_id, change_id=body.change_id, actor=actor.name)
    return entry.to_dict()
