"""The audit trail in the query-log database: one row per change (who, when, what, before/after as JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.clock import as_utc, utcnow
from app.store.querylog_faq import Transactions
from app.store.querylog_schema import audit_log


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    before: dict | None
    after: dict | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "before": self.before,
            "after": self.after,
        }


def _entry(row: sa.Row) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        id=int(m["id"]),
        at=as_utc(m["at"]),
        actor=m["actor"],
        action=m["action"],
        target_type=m["target_type"],
        target_id=m["target_id"],
        before=m["before"],
        after=m["after"],
    )


@dataclass
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None  # exact (`faq.update`) or a prefix ending in a dot (`faq.`)
    target_type: str | None = None
    target_id: str | None = None

    def where(self) -> list:
        c = audit_log.c
        out: list = []
        if self.since is not None:
            out.append(c.at >= as_utc(self.since))
        if self.until is not None:
            out.append(c.at < as_utc(self.until))
        if self.actor:
            out.append(c.actor == self.actor)
        if self.action:
            out.append(
                c.action.startswith(self.action, autoescape=True)
                if self.action.endswith(".")
                else c.action == self.action
            )
        if self.target_type:
            out.append(c.target_type == self.target_type)
        if self.target_id:
            out.append(c.target_id == self.target_id)
        return out


class AuditTrail:
    def __init__(self, log: Transactions) -> None:
        self.log = log

    def add(
        self,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        before: dict | None = None,
        after: dict | None = None,
    ) -> AuditEntry:
        with self.log.write() as conn:
            result = conn.execute(
                audit_log.insert().values(
                    at=utcnow(),
                    actor=actor[:64],
                    action=action,
                    target_type=target_type,
                    target_id=str(target_id)[:255],
                    before=before,
                    after=after,
                )
            )
            assert result.inserted_primary_key is not None
            row = conn.execute(sa.select(audit_log).where(audit_log.c.id == result.inserted_primary_key[0])).one()
        return _entry(row)

    def get(self, entry_id: int) -> AuditEntry | None:
        if not 0 < entry_id < 2**63:
            return None
        with self.log.read() as conn:
            row = conn.execute(sa.select(audit_log).where(audit_log.c.id == entry_id)).first()
        return _entry(row) if row is not None else None

    def count(self, flt: AuditFilter) -> int:
        with self.log.read() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(*flt.where())).scalar() or 0
            )

    def search(
        self, flt: AuditFilter, *, offset: int = 0, limit: int | None = 100, newest_first: bool = True
    ) -> list[AuditEntry]:
        order = (audit_log.c.at.desc(), audit_log.c.id.desc()) if newest_first else (audit_log.c.at, audit_log.c.id)
        stmt = sa.select(audit_log).where(*flt.where()).order_by(*order).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.log.read() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def actors(self) -> list[str]:
        with self.log.read() as conn:
            return [r[0] for r in conn.execute(sa.select(audit_log.c.actor).distinct().order_by(audit_log.c.actor))]
