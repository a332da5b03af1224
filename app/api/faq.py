"""Admin routes for FAQ entries: CRUD, CSV/XLSX import and export. A saved entry is searchable at once."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from app.api.deps import AdminDep, JsonBody, ServicesDep, download_response
from app.ops import faq, faq_citations, faq_list, wordings

router = APIRouter(prefix="/api/admin/faq", tags=["admin", "faq"])


class FaqBody(JsonBody):
    question: str = Field(..., min_length=1, max_length=2000)
    answer: str = Field(..., min_length=1, max_length=20000)
    category: str | None = Field(
        None, description="attendance | expense | supplies | other (or 勤怠 / 経費 / 備品 / その他); default other."
    )
    wordings: list[str] = Field(
        default_factory=list, max_length=200, description="Alternative wordings (言い換え), matched like the question."
    )


class WordingBody(JsonBody):
    wording: str = Field(..., min_length=1, max_length=2000, description="An alternative wording of the question.")


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
        wordings=body.wordings,
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


class FaqItemBody(JsonBody):
    question: str = Field(..., min_length=1, max_length=2000)
    answer: str = Field(..., min_length=1, max_length=20000)
    category: str | None = Field(None, description="attendance | expense | supplies | other; default: the item's.")


@router.get("/items")
async def list_items(
    services: ServicesDep,
    _: AdminDep,
    q: str | None = None,
    category: str | None = None,
    origin: str | None = None,
) -> dict:
    """One FAQ: the rows of ingested FAQ spreadsheets and the entries in the database (overrides, conflicts)."""
    items = await run_in_threadpool(faq_list.list_items, services, q=q, category=category, origin=origin)
    return {"items": [i.to_dict() for i in items], "total": len(items)}


@router.get("/items.csv")
async def export_items_csv(
    services: ServicesDep, _: AdminDep, q: str | None = None, category: str | None = None, origin: str | None = None
) -> Response:
    return download_response(
        await run_in_threadpool(faq_list.export_csv, services, q=q, category=category, origin=origin)
    )


@router.get("/items.xlsx")
async def export_items_xlsx(
    services: ServicesDep, _: AdminDep, q: str | None = None, category: str | None = None, origin: str | None = None
) -> Response:
    return download_response(
        await run_in_threadpool(faq_list.export_xlsx, services, q=q, category=category, origin=origin)
    )


@router.put("/items/{key}")
async def edit_item(key: str, body: FaqItemBody, services: ServicesDep, actor: AdminDep) -> dict:
    """A database entry is updated; a sheet row becomes a staff entry overriding it (re-ingest does not undo it)."""
    entry = await run_in_threadpool(
        faq_list.edit_item,
        services,
        key,
        question=body.question,
        answer=body.answer,
        category=body.category,
        actor=actor.name,
    )
    return entry.to_dict()


@router.delete("/items/{key}")
async def delete_item(key: str, services: ServicesDep, actor: AdminDep) -> dict:
    """An entry or override is deleted; a sheet row gets a tombstone hiding it (delete the tombstone to restore)."""
    entry = await run_in_threadpool(faq_list.delete_item, services, key, actor=actor.name)
    return {"deleted": entry.to_dict()}


@router.post("/items/{key}/keep")
async def keep_override(key: str, services: ServicesDep, _: AdminDep) -> dict:
    """Settle a conflict: keep the staff's text over the sheet's changed answer."""
    return (await run_in_threadpool(faq_list.keep_override, services, key)).to_dict()


class CitationRef(JsonBody):
    doc_id: str = Field(..., min_length=1, max_length=512)
    section: str = Field(..., min_length=1, max_length=2000)


class CitationsBody(JsonBody):
    citations: list[CitationRef] = Field(..., max_length=20, description="The articles the answer rests on.")


@router.get("/review")
async def review_list(services: ServicesDep, _: AdminDep) -> dict:
    """Entries flagged 要確認: a cited article's text changed since it was cited."""
    found = await run_in_threadpool(faq_citations.needs_review, services)
    return {"entries": [{**e.to_dict(), "changed": changed} for e, changed in found], "total": len(found)}


@router.get("/proposals")
async def list_proposals(services: ServicesDep, _: AdminDep, status: str | None = "pending") -> dict:
    """Wordings proposed from 解決した feedback on FAQ answers (status pending | accepted | rejected | empty: all)."""
    found = await run_in_threadpool(wordings.list_proposals, services, status=status)
    return {"proposals": [p.to_dict() for p in found], "total": len(found)}


@router.post("/proposals/{proposal_id}/accept")
async def accept_proposal(proposal_id: int, services: ServicesDep, actor: AdminDep) -> dict:
    return (await run_in_threadpool(wordings.accept, services, proposal_id, by=actor.name)).to_dict()


@router.post("/proposals/{proposal_id}/reject")
async def reject_proposal(proposal_id: int, services: ServicesDep, actor: AdminDep) -> dict:
    return (await run_in_threadpool(wordings.reject, services, proposal_id, by=actor.name)).to_dict()


@router.post("/{entry_id}/wordings", status_code=201)
async def add_wording(entry_id: int, body: WordingBody, services: ServicesDep, actor: AdminDep) -> dict:
    entry = await run_in_threadpool(faq.add_wordings, services, entry_id, [body.wording], created_by=actor.name)
    return entry.to_dict()


@router.delete("/{entry_id}/wordings")
async def remove_wording(entry_id: int, body: WordingBody, services: ServicesDep, _: AdminDep) -> dict:
    entry = await run_in_threadpool(faq.remove_wording, services, entry_id, body.wording)
    return entry.to_dict()


@router.put("/{entry_id}/citations")
async def set_citations(entry_id: int, body: CitationsBody, services: ServicesDep, _: AdminDep) -> dict:
    cites = [c.model_dump() for c in body.citations]
    return (await run_in_threadpool(faq_citations.set_citations, services, entry_id, cites)).to_dict()


@router.post("/{entry_id}/confirm")
async def confirm_entry(entry_id: int, services: ServicesDep, _: AdminDep) -> dict:
    """The staff checked the entry against its changed articles: 要確認 clears."""
    return (await run_in_threadpool(faq_citations.confirm, services, entry_id)).to_dict()


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
