"""Proposed FAQ wordings: an asker's wording whose FAQ answer was marked 解決した, waiting for a staff decision.

A proposal is never applied by itself: only `accept` turns it into a wording of the entry (app/ops/wordings.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from app.clock import as_utc, utcnow
from app.errors import NotFoundError
from app.store.querylog_faq import MAX_ID, Transactions
from app.store.querylog_schema import faq_entries, faq_wording_proposals

ProposalStatus = Literal["pending", "accepted", "rejected"]


@dataclass
class WordingProposal:
    id: int
    entry_id: int
    question: str
    query_id: str | None
    status: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    entry_question: str = ""  # the entry's canonical question (for the review list)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["decided_at"] = self.decided_at.isoformat() if self.decided_at else None
        return out


def _proposal(row: sa.Row) -> WordingProposal:
    m = row._mapping
    return WordingProposal(
        id=int(m["id"]),
        entry_id=int(m["entry_id"]),
        question=m["question"],
        query_id=m["query_id"],
        status=m["status"],
        created_at=as_utc(m["created_at"]),
        decided_at=as_utc(m["decided_at"]),
        decided_by=m["decided_by"],
        entry_question=m.get("entry_question") or "",
    )


def _select():
    t = faq_wording_proposals
    return sa.select(t, faq_entries.c.question.label("entry_question")).join(
        faq_entries, faq_entries.c.id == t.c.entry_id
    )


class WordingProposals:
    def __init__(self, log: Transactions) -> None:
        self.log = log

    def list(self, *, status: str | None = "pending", entry_id: int | None = None) -> list[WordingProposal]:
        t = faq_wording_proposals
        stmt = _select().order_by(t.c.id)
        if status:
            stmt = stmt.where(t.c.status == status)
        if entry_id is not None:
            stmt = stmt.where(t.c.entry_id == int(entry_id))
        with self.log.read() as conn:
            return [_proposal(r) for r in conn.execute(stmt)]

    def get(self, proposal_id: int) -> WordingProposal | None:
        if not 0 < int(proposal_id) <= MAX_ID:
            return None
        with self.log.read() as conn:
            row = conn.execute(_select().where(faq_wording_proposals.c.id == int(proposal_id))).first()
        return _proposal(row) if row is not None else None

    def require(self, proposal_id: int) -> WordingProposal:
        found = self.get(proposal_id)
        if found is None:
            raise NotFoundError(
                f"No proposed wording {proposal_id}.",
                f"言い換えの提案 {proposal_id} はありません。",
                code="proposal_not_found",
            )
        return found

    def propose(self, *, entry_id: int, question: str, query_id: str | None) -> WordingProposal | None:
        """Queue a wording unless the same wording for the same entry is already queued or was decided."""
        t = faq_wording_proposals
        with self.log.write() as conn:
            seen = conn.execute(
                sa.select(t.c.id).where(t.c.entry_id == int(entry_id), t.c.question == question)
            ).first()
            if seen is not None:
                return None
            result = conn.execute(
                t.insert().values(
                    entry_id=int(entry_id), question=question, query_id=query_id, status="pending", created_at=utcnow()
                )
            )
            assert result.inserted_primary_key is not None
            new_id = int(result.inserted_primary_key[0])
            row = conn.execute(_select().where(t.c.id == new_id)).one()
        return _proposal(row)

    def decide(self, proposal_id: int, *, status: ProposalStatus, by: str | None) -> WordingProposal:
        t = faq_wording_proposals
        with self.log.write() as conn:
            done = conn.execute(
                t.update()
                .where(t.c.id == int(proposal_id), t.c.status == "pending")
                .values(status=status, decided_at=utcnow(), decided_by=by)
            )
            if not done.rowcount:
                row = conn.execute(sa.select(t.c.status).where(t.c.id == int(proposal_id))).first()
                if row is None:
                    raise NotFoundError(
                        f"No proposed wording {proposal_id}.",
                        f"言い換えの提案 {proposal_id} はありません。",
                        code="proposal_not_found",
                    )
            row = conn.execute(_select().where(t.c.id == int(proposal_id))).one()
        return _proposal(row)
