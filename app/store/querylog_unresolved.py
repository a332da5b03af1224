"""The unresolved questions for the 「未解決の質問」 page, with at most a few per asker: one asker's flood cannot push
everyone else's escalations off the list; how many each asker has in all is returned beside the rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.store.querylog import QueryFilter, QueryRecord
from app.store.querylog_schema import queries

if TYPE_CHECKING:
    from app.store.querylog import QueryLog


def unresolved_per_asker(log: QueryLog, *, limit: int, per_asker: int) -> tuple[list[QueryRecord], dict[str, int]]:
    """(the newest `per_asker` unresolved questions of each asker, newest first, at most `limit`; asker → how many
    unresolved questions that asker has). Questions without a user id count as one asker each."""
    t = queries.c
    asker = sa.func.coalesce(t.user_id, t.id)
    inner = (
        sa.select(
            queries,
            sa.func.row_number().over(partition_by=asker, order_by=(t.created_at.desc(), t.id)).label("rank"),
            sa.func.count().over(partition_by=asker).label("asked"),
        )
        .where(*QueryFilter(unresolved=True).where())
        .subquery()
    )
    stmt = (
        sa.select(inner).where(inner.c.rank <= per_asker).order_by(inner.c.created_at.desc(), inner.c.id).limit(limit)
    )
    with log.read() as conn:
        rows = conn.execute(stmt).all()
    records = [QueryRecord.from_row(r) for r in rows]
    totals = {r._mapping["user_id"]: int(r._mapping["asked"]) for r in rows if r._mapping["user_id"]}
    return records, totals
