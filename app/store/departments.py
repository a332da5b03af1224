"""The user → department mapping (部署) in the query-log database: which department an asker belongs to, for the
per-department figures of the stats and the monthly report. The staff replace it whole from a CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.clock import as_utc, utcnow
from app.store.querylog_faq import Transactions
from app.store.querylog_schema import departments


@dataclass(frozen=True)
class DepartmentRow:
    user_id: str
    department: str
    updated_at: datetime
    updated_by: str | None = None

    def to_dict(self) -> dict:
        return {
            "user_id": self.user_id,
            "department": self.department,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


class Departments:
    def __init__(self, log: Transactions) -> None:
        self.log = log

    def rows(self) -> list[DepartmentRow]:
        stmt = sa.select(departments).order_by(departments.c.department, departments.c.user_id)
        with self.log.read() as conn:
            return [
                DepartmentRow(r.user_id, r.department, as_utc(r.updated_at), r.updated_by) for r in conn.execute(stmt)
            ]

    def mapping(self) -> dict[str, str]:
        return {r.user_id: r.department for r in self.rows()}

    def replace(self, mapping: dict[str, str], *, by: str | None = None) -> int:
        """Replace the whole mapping in one transaction; returns the number of users mapped."""
        now = utcnow()
        with self.log.write() as conn:
            conn.execute(departments.delete())
            if mapping:
                conn.execute(
                    departments.insert(),
                    [
                        {"user_id": u, "department": d, "updated_at": now, "updated_by": by}
                        for u, d in sorted(mapping.items())
                    ],
                )
        return len(mapping)
