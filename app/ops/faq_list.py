"""One FAQ: the rows of ingested FAQ spreadsheets and the entries in the database, as one list to search, filter
(category, origin: sheet | staff | resolution), edit, delete and export.

Which wins: a sheet row edited by the staff becomes a database entry that *overrides* the row (keyed by the sheet's
document and the row's question). Its searchable copy carries `overrides`, so the sheet row never answers while
the override exists — re-ingesting the sheet does not undo the staff's edit. When the sheet's answer for that row
later differs from the answer it had when it was overridden, the entry shows a conflict (both texts) until the
staff keep their text (`keep_override`) or delete the override (the sheet row answers again).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from app.errors import BadRequestError, NotFoundError
from app.ops import faq, faq_citations
from app.ops.downloads import CSV_TYPE, XLSX_TYPE, Export
from app.ops.faq_files import faq_csv, faq_xlsx
from app.services import Services
from app.store.querylog_faq import FaqEntry

FaqOrigin = Literal["sheet", "staff", "resolution"]
ORIGINS: tuple[FaqOrigin, ...] = ("sheet", "staff", "resolution")
EXPORT_COLUMNS = ("question", "answer", "category", "origin", "source")


@dataclass
class SheetRow:
    doc_id: str
    source: str
    question: str
    answer: str
    category: str

    @property
    def key(self) -> str:
        return sheet_key(self.doc_id, self.question)


@dataclass
class FaqItem:
    key: str  # "e<id>" for a database entry, "s<hash>" for a sheet row nobody overrode
    origin: str  # sheet | staff | resolution
    question: str
    answer: str
    category: str
    source: str  # "FAQ" (the database) or the sheet's file
    entry_id: int | None = None
    wordings: list[str] = field(default_factory=list)
    overrides_sheet: bool = False  # a staff edit of a sheet row
    conflict: dict | None = None  # {"sheet_answer", "override_answer"} or {"sheet_row_missing": True}
    updated_at: datetime | None = None  # database entries only
    stale: list[dict] = field(default_factory=list)  # 要確認: cited articles whose text changed
    deleted: bool = False  # a sheet row the staff deleted (hidden until the tombstone is removed)

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return out


def sheet_key(doc_id: str, question: str) -> str:
    return "s" + hashlib.sha256(f"{doc_id}\x1f{question}".encode()).hexdigest()[:16]


def sheet_rows(services: Services) -> list[SheetRow]:
    """The FAQ rows of every ingested spreadsheet, as the search sees them (one per question)."""
    snapshot = services.index.snapshot
    if snapshot is None:
        return []
    seen: dict[tuple[str, str], SheetRow] = {}
    for c in snapshot.chunks:
        if c.sheet_row and (c.doc_id, c.question or "") not in seen:
            seen[(c.doc_id, c.question or "")] = SheetRow(
                doc_id=c.doc_id, source=c.source, question=c.question or "", answer=c.text, category=c.category
            )
    return list(seen.values())


def _entry_item(e: FaqEntry, rows: dict[tuple[str, str], SheetRow], services: Services) -> FaqItem:
    conflict = None
    source = "FAQ"
    if e.sheet_doc_id:
        row = rows.get((e.sheet_doc_id, e.sheet_question or ""))
        source = row.source if row else e.sheet_doc_id
        if row is None:
            conflict = {"sheet_row_missing": True, "override_answer": e.answer}
        elif row.answer.strip() != (e.sheet_answer or "").strip():
            conflict = {"sheet_answer": row.answer, "override_answer": e.answer}
    return FaqItem(
        key=f"e{e.id}",
        origin=e.origin,
        question=e.question,
        answer=e.answer,
        category=e.category,
        source=source,
        entry_id=e.id,
        wordings=list(e.wordings),
        overrides_sheet=bool(e.sheet_doc_id),
        conflict=conflict,
        updated_at=e.updated_at,
        stale=faq_citations.stale(services, e),
        deleted=e.hidden,
    )


def list_items(
    services: Services, *, q: str | None = None, category: str | None = None, origin: str | None = None
) -> list[FaqItem]:
    """Every FAQ the bot answers from: database entries, then the sheet rows no entry overrides."""
    if origin and origin not in ORIGINS:
        raise BadRequestError(
            f"Unknown origin {origin!r}; use one of {', '.join(ORIGINS)}.",
            f"不明な出どころ {origin!r} です。sheet（シート）・staff（スタッフ）・resolution（回答から登録）から選んでください。",
            code="bad_origin",
        )
    rows = {(r.doc_id, r.question): r for r in sheet_rows(services)}
    entries = services.require_log().faq.list() if services.query_log is not None else []
    overridden = {(e.sheet_doc_id, e.sheet_question or "") for e in entries if e.sheet_doc_id}
    items = [_entry_item(e, rows, services) for e in entries]
    items += [
        FaqItem(key=r.key, origin="sheet", question=r.question, answer=r.answer, category=r.category, source=r.source)
        for k, r in rows.items()
        if k not in overridden
    ]
    needle = (q or "").strip().lower()
    return [
        i
        for i in items
        if (not category or i.category == category)
        and (not origin or i.origin == origin)
        and (
            not needle
            or needle in i.question.lower()
            or needle in i.answer.lower()
            or any(needle in w.lower() for w in i.wordings)
        )
    ]


def get_item(services: Services, key: str) -> FaqItem:
    for item in list_items(services):
        if item.key == key:
            return item
    raise NotFoundError(f"No FAQ item {key!r}.", f"FAQ {key!r} はありません。", code="faq_not_found")


def _entry_id(key: str) -> int | None:
    return int(key[1:]) if key.startswith("e") and key[1:].isdigit() else None


def edit_item(
    services: Services, key: str, *, question: str, answer: str, category: str | None, actor: str | None = None
) -> FaqEntry:
    """Edit any FAQ: a database entry is updated; a sheet row becomes a staff entry overriding it (searchable at
    once, and the sheet row stops answering)."""
    entry_id = _entry_id(key)
    if entry_id is not None:
        return faq.update_entry(services, entry_id, question=question, answer=answer, category=category, actor=actor)
    row = next((r for r in sheet_rows(services) if r.key == key), None)
    if row is None:
        raise NotFoundError(f"No FAQ item {key!r}.", f"FAQ {key!r} はありません。", code="faq_not_found")
    return faq.create_entry(
        services,
        question=question,
        answer=answer,
        category=category or row.category,
        created_by=actor or "console",
        sheet=(row.doc_id, row.question, row.answer),
        actor=actor,
    )


def delete_item(services: Services, key: str, *, actor: str | None = None) -> FaqEntry:
    """Delete an entry. Deleting an override removes the staff's edit (the sheet row answers again); deleting a sheet
    row leaves a tombstone that hides it, also after re-ingest, until the tombstone is deleted (restored)."""
    entry_id = _entry_id(key)
    if entry_id is not None:
        return faq.delete_entry(services, entry_id, actor=actor)
    row = next((r for r in sheet_rows(services) if r.key == key), None)
    if row is None:
        raise NotFoundError(f"No FAQ item {key!r}.", f"FAQ {key!r} はありません。", code="faq_not_found")
    return faq.create_entry(
        services,
        question=row.question,
        answer=row.answer,
        category=row.category,
        created_by=actor or "console",
        sheet=(row.doc_id, row.question, row.answer),
        hidden=True,
        actor=actor,
    )


def keep_override(services: Services, key: str) -> FaqEntry:
    """Settle a conflict: the staff keep their text over the sheet's changed answer."""
    item = get_item(services, key)
    if item.entry_id is None or not item.overrides_sheet:
        raise BadRequestError(
            "Only a staff override of a sheet row has a conflict to settle.",
            "シート行を上書きした FAQ だけが対象です。",
            code="not_an_override",
        )
    if not item.conflict or "sheet_answer" not in item.conflict:
        return faq.get_entry(services, item.entry_id)
    return services.require_log().faq.set_sheet_answer(item.entry_id, item.conflict["sheet_answer"])


def export_csv(services: Services, **filters) -> Export:
    items = list_items(services, **filters)
    return Export(filename="madoguchi-faq-all.csv", media_type=CSV_TYPE, content=faq_csv(items, EXPORT_COLUMNS))


def export_xlsx(services: Services, **filters) -> Export:
    items = list_items(services, **filters)
    return Export(filename="madoguchi-faq-all.xlsx", media_type=XLSX_TYPE, content=faq_xlsx(items, EXPORT_COLUMNS))
