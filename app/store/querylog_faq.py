"""FAQ entries in the query-log database: the source of truth (the chunk store holds their searchable copy)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from app.clock import as_utc, utcnow
from app.errors import NotFoundError
from app.store.querylog_schema import faq_entries, faq_wording_proposals, faq_wordings


class Transactions(Protocol):
    """The query log's transactions (`QueryLog.read()` / `QueryLog.write()`, committed when the block ends)."""

    def read(self) -> AbstractContextManager[sa.Connection]: ...
    def write(self) -> AbstractContextManager[sa.Connection]: ...


@dataclass
class FaqEntry:
    id: int
    question: str
    answer: str
    category: str
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    source_query_id: str | None = None
    wordings: list[str] = field(default_factory=list)  # alternative wordings (言い換え), matched like the question
    sheet_doc_id: str | None = None  # set: this entry overrides the row `sheet_question` of that FAQ sheet
    sheet_question: str | None = None
    sheet_answer: str | None = None  # the sheet row's answer when it was overridden
    citations: list[dict] = field(default_factory=list)  # [{doc_id, source, section, hash}] (app/ops/faq_citations.py)
    hidden: bool = False  # a deleted sheet row: hides the row, answers nothing itself

    @property
    def origin(self) -> str:
        """sheet (a staff override of a spreadsheet row) | resolution (「FAQ に登録」) | staff."""
        if self.sheet_doc_id:
            return "sheet"
        return "resolution" if self.source_query_id else "staff"

    @property
    def overrides(self) -> str | None:
        """The sheet row this entry replaces in retrieval, as `doc_id\x1fquestion` (the chunk metadata's form)."""
        return f"{self.sheet_doc_id}\x1f{self.sheet_question}" if self.sheet_doc_id else None

    @property
    def questions(self) -> list[str]:
        """Every question this entry answers: the canonical one first, then its wordings."""
        return [self.question, *self.wordings]

    @property
    def doc_id(self) -> str:
        return f"faq:{self.id}"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["updated_at"] = self.updated_at.isoformat()
        out["doc_id"] = self.doc_id
        out["origin"] = self.origin
        return out


def _entry(row: sa.Row, wordings: list[str] | None = None) -> FaqEntry:
    m = row._mapping
    return FaqEntry(
        id=int(m["id"]),
        question=m["question"],
        answer=m["answer"],
        category=m["category"],
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
        created_by=m["created_by"],
        source_query_id=m["source_query_id"],
        wordings=list(wordings or []),
        sheet_doc_id=m.get("sheet_doc_id"),
        sheet_question=m.get("sheet_question"),
        sheet_answer=m.get("sheet_answer"),
        citations=list(m.get("citations") or []),
        hidden=bool(m.get("hidden")),
    )


def _wordings_of(conn: sa.Connection, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    stmt = sa.select(faq_wordings.c.entry_id, faq_wordings.c.question).order_by(faq_wordings.c.id)
    if len(ids) < 500:
        stmt = stmt.where(faq_wordings.c.entry_id.in_(ids))
    for entry_id, question in conn.execute(stmt):
        out.setdefault(int(entry_id), []).append(question)
    return out


def _read(conn: sa.Connection, entry_id: int) -> FaqEntry | None:
    row = conn.execute(sa.select(faq_entries).where(faq_entries.c.id == int(entry_id))).first()
    if row is None:
        return None
    return _entry(row, _wordings_of(conn, [int(entry_id)]).get(int(entry_id)))


Texts = list[str]  # (inside FaqEntries, `list` names the method)

# Row ids are 64-bit signed integers in SQLite and PostgreSQL: a larger id names no entry (and must not reach the driver).
MAX_ID = 2**63 - 1


def _not_found(entry_id: int) -> NotFoundError:
    return NotFoundError(f"No FAQ entry {entry_id}.", f"FAQ 項目 {entry_id} はありません。", code="faq_not_found")


class FaqEntries:
    def __init__(self, log: Transactions) -> None:
        self.log = log

    def list(self, *, q: str | None = None, category: str | None = None) -> list[FaqEntry]:
        stmt = sa.select(faq_entries).order_by(faq_entries.c.id)
        if q:
            in_wordings = sa.select(faq_wordings.c.entry_id).where(
                faq_wordings.c.question.icontains(q, autoescape=True)
            )
            stmt = stmt.where(
                sa.or_(
                    faq_entries.c.question.icontains(q, autoescape=True),
                    faq_entries.c.answer.icontains(q, autoescape=True),
                    faq_entries.c.id.in_(in_wordings),
                )
            )
        if category:
            stmt = stmt.where(faq_entries.c.category == category)
        with self.log.read() as conn:
            rows = list(conn.execute(stmt))
            wordings = _wordings_of(conn, [int(r._mapping["id"]) for r in rows])
        return [_entry(r, wordings.get(int(r._mapping["id"]))) for r in rows]

    def get(self, entry_id: int) -> FaqEntry | None:
        if not 0 < int(entry_id) <= MAX_ID:
            return None
        with self.log.read() as conn:
            return _read(conn, entry_id)

    def require(self, entry_id: int) -> FaqEntry:
        entry = self.get(entry_id)
        if entry is None:
            raise _not_found(entry_id)
        return entry

    def create(
        self,
        *,
        question: str,
        answer: str,
        category: str,
        created_by: str | None = None,
        source_query_id: str | None = None,
        wordings: Sequence[str] | None = None,
        sheet: tuple[str, str, str] | None = None,
        citations: Sequence[dict] | None = None,
        hidden: bool = False,
    ) -> FaqEntry:
        """`sheet`: (doc_id, row question, row answer) of the FAQ sheet row this entry overrides."""
        now = utcnow()
        with self.log.write() as conn:
            result = conn.execute(
                faq_entries.insert().values(
                    question=question,
                    answer=answer,
                    category=category,
                    created_at=now,
                    updated_at=now,
                    created_by=created_by,
                    source_query_id=source_query_id,
                    sheet_doc_id=sheet[0] if sheet else None,
                    sheet_question=sheet[1] if sheet else None,
                    sheet_answer=sheet[2] if sheet else None,
                    citations=list(citations or []) or None,
                    hidden=hidden,
                )
            )
            assert result.inserted_primary_key is not None
            new_id = int(result.inserted_primary_key[0])
            for w in _new_wordings(question, [], wordings or []):
                conn.execute(
                    faq_wordings.insert().values(
                        entry_id=new_id,
                        question=w,
                        created_at=now,
                        created_by=created_by,
                        source_query_id=source_query_id,
                    )
                )
            entry = _read(conn, new_id)
        assert entry is not None
        return entry

    def update(self, entry_id: int, *, question: str, answer: str, category: str) -> FaqEntry:
        if not 0 < int(entry_id) <= MAX_ID:
            raise _not_found(entry_id)
        with self.log.write() as conn:
            done = conn.execute(
                faq_entries.update()
                .where(faq_entries.c.id == int(entry_id))
                .values(question=question, answer=answer, category=category, updated_at=utcnow())
            )
            if not done.rowcount:
                raise _not_found(entry_id)
            # A wording that became the canonical question is no longer an alternative.
            conn.execute(
                faq_wordings.delete().where(
                    faq_wordings.c.entry_id == int(entry_id), faq_wordings.c.question == question
                )
            )
            entry = _read(conn, entry_id)
        assert entry is not None
        return entry

    def add_wordings(
        self,
        entry_id: int,
        wordings: Sequence[str],
        *,
        created_by: str | None = None,
        source_query_id: str | None = None,
    ) -> tuple[FaqEntry, Texts]:
        """Add the wordings the entry does not have yet (same text as the question or a wording: skipped).
        Returns the entry and the wordings actually added."""
        if not 0 < int(entry_id) <= MAX_ID:
            raise _not_found(entry_id)
        with self.log.write() as conn:
            entry = _read(conn, entry_id)
            if entry is None:
                raise _not_found(entry_id)
            added = _new_wordings(entry.question, entry.wordings, wordings)
            now = utcnow()
            for w in added:
                conn.execute(
                    faq_wordings.insert().values(
                        entry_id=int(entry_id),
                        question=w,
                        created_at=now,
                        created_by=created_by,
                        source_query_id=source_query_id,
                    )
                )
            if added:
                conn.execute(faq_entries.update().where(faq_entries.c.id == int(entry_id)).values(updated_at=now))
            entry = _read(conn, entry_id)
        assert entry is not None
        return entry, added

    def set_citations(self, entry_id: int, citations: Sequence[dict]) -> FaqEntry:
        if not 0 < int(entry_id) <= MAX_ID:
            raise _not_found(entry_id)
        with self.log.write() as conn:
            done = conn.execute(
                faq_entries.update()
                .where(faq_entries.c.id == int(entry_id))
                .values(citations=list(citations) or None, updated_at=utcnow())
            )
            if not done.rowcount:
                raise _not_found(entry_id)
            entry = _read(conn, entry_id)
        assert entry is not None
        return entry

    def set_sheet_answer(self, entry_id: int, sheet_answer: str) -> FaqEntry:
        """The staff saw the sheet's changed answer and keep their override: the conflict is settled."""
        if not 0 < int(entry_id) <= MAX_ID:
            raise _not_found(entry_id)
        with self.log.write() as conn:
            done = conn.execute(
                faq_entries.update().where(faq_entries.c.id == int(entry_id)).values(sheet_answer=sheet_answer)
            )
            if not done.rowcount:
                raise _not_found(entry_id)
            entry = _read(conn, entry_id)
        assert entry is not None
        return entry

    def remove_wording(self, entry_id: int, wording: str) -> FaqEntry:
        if not 0 < int(entry_id) <= MAX_ID:
            raise _not_found(entry_id)
        with self.log.write() as conn:
            done = conn.execute(
                faq_wordings.delete().where(
                    faq_wordings.c.entry_id == int(entry_id), faq_wordings.c.question == wording
                )
            )
            if not done.rowcount:
                raise NotFoundError(
                    f"FAQ entry {entry_id} has no wording {wording!r}.",
                    f"FAQ 項目 {entry_id} に言い換え「{wording}」はありません。",
                    code="wording_not_found",
                )
            conn.execute(faq_entries.update().where(faq_entries.c.id == int(entry_id)).values(updated_at=utcnow()))
            entry = _read(conn, entry_id)
        assert entry is not None
        return entry

    def delete(self, entry_id: int) -> FaqEntry:
        if not 0 < int(entry_id) <= MAX_ID:
            raise _not_found(entry_id)
        with self.log.write() as conn:
            entry = _read(conn, entry_id)
            if entry is None:
                raise _not_found(entry_id)
            # Explicit (SQLite enforces ON DELETE CASCADE only with PRAGMA foreign_keys).
            conn.execute(faq_wordings.delete().where(faq_wordings.c.entry_id == int(entry_id)))
            conn.execute(faq_wording_proposals.delete().where(faq_wording_proposals.c.entry_id == int(entry_id)))
            conn.execute(faq_entries.delete().where(faq_entries.c.id == int(entry_id)))
        return entry


def _new_wordings(question: str, existing: Sequence[str], wordings: Sequence[str]) -> list[str]:
    """The cleaned wordings that are neither the question nor an existing wording (order kept, no repeats)."""
    seen = {question.strip(), *(w.strip() for w in existing)}
    out = []
    for w in wordings:
        w = (w or "").strip()
        if w and w not in seen:
            seen.add(w)
            out.append(w)
    return out
