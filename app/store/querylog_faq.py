"""FAQ entries in the query-log database: the source of truth (the chunk store holds their searchable copy)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from app.clock import as_utc, utcnow
from app.errors import NotFoundError
from app.store.querylog_schema import faq_entries


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

    @property
    def doc_id(self) -> str:
        return f"faq:{self.id}"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["updated_at"] = self.updated_at.isoformat()
        out["doc_id"] = self.doc_id
        return out


def _entry(row: sa.Row) -> FaqEntry:
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
    )


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
            stmt = stmt.where(
                sa.or_(
                    faq_entries.c.question.icontains(q, autoescape=True),
                    faq_entries.c.answer.icontains(q, autoescape=True),
                )
            )
        if category:
            stmt = stmt.where(faq_entries.c.category == category)
        with self.log.read() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def get(self, entry_id: int) -> FaqEntry | None:
        if not 0 < int(entry_id) <= MAX_ID:
            return None
        with self.log.read() as conn:
            row = conn.execute(sa.select(faq_entries).where(faq_entries.c.id == int(entry_id))).first()
        return _entry(row) if row is not None else None

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
    ) -> FaqEntry:
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
                )
            )
            assert result.inserted_primary_key is not None
            new_id = result.inserted_primary_key[0]
            row = conn.execute(sa.select(faq_entries).where(faq_entries.c.id == new_id)).one()
        return _entry(row)

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
            row = conn.execute(sa.select(faq_entries).where(faq_entries.c.id == int(entry_id))).one()
        return _entry(row)

    def delete(self, entry_id: int) -> FaqEntry:
        if not 0 < int(entry_id) <= MAX_ID:
            raise _not_found(entry_id)
        with self.log.write() as conn:
            row = conn.execute(sa.select(faq_entries).where(faq_entries.c.id == int(entry_id))).first()
            if row is None:
                raise _not_found(entry_id)
            conn.execute(faq_entries.delete().where(faq_entries.c.id == int(entry_id)))
        return _entry(row)
