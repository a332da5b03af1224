"""Retention and deletion of the query log: questions (with their answers, user ids, feedback and Slack metadata)
older than the retention period are deleted, and so are one asker's questions on request. Before a row goes, it
is counted into `monthly_aggregates` in the same transaction, so the stats and the monthly report still count it
(on the first day of its month) and nothing is counted twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.clock import as_utc
from app.store.querylog_schema import monthly_aggregates, queries

if TYPE_CHECKING:
    from app.store.querylog import QueryFilter, QueryLog

_BATCH = 2000  # rows per transaction: a long purge never holds the write lock for long


def _fold(conn: sa.Connection, rows: Iterable, tz: ZoneInfo) -> None:
    """Add rows (created_at, channel, category, outcome, helpful) to the monthly aggregates."""
    counts: Counter = Counter()
    yes: Counter = Counter()
    no: Counter = Counter()
    for created_at, channel, category, outcome, helpful in rows:
        key = (as_utc(created_at).astimezone(tz).strftime("%Y-%m"), channel or "", category or "", outcome)
        counts[key] += 1
        yes[key] += helpful is True
        no[key] += helpful is False
    t = monthly_aggregates.c
    for key, n in counts.items():
        month, channel, category, outcome = key
        match = sa.and_(t.month == month, t.channel == channel, t.category == category, t.outcome == outcome)
        done = conn.execute(
            monthly_aggregates.update()
            .where(match)
            .values(count=t.count + n, helpful_yes=t.helpful_yes + yes[key], helpful_no=t.helpful_no + no[key])
        )
        if done.rowcount == 0:
            conn.execute(
                monthly_aggregates.insert().values(
                    month=month,
                    channel=channel,
                    category=category,
                    outcome=outcome,
                    count=n,
                    helpful_yes=yes[key],
                    helpful_no=no[key],
                )
            )


def _delete_where(log: QueryLog, where, tz: ZoneInfo) -> int:
    """Count the matching rows into the aggregates and delete them, a batch per transaction. Returns the rows."""
    q = queries.c
    total = 0
    conflicts = 0
    while True:
        try:
            with log.write() as conn:
                rows = conn.execute(
                    sa.select(q.id, q.created_at, q.channel, q.category, q.outcome, q.helpful)
                    .where(where)
                    .limit(_BATCH)
                ).all()
                if not rows:
                    return total
                _fold(conn, [tuple(r)[1:] for r in rows], tz)
                conn.execute(queries.delete().where(q.id.in_([r[0] for r in rows])))
        except IntegrityError:  # another process created the same aggregate row first: this batch was rolled back
            conflicts += 1
            if conflicts > 5:
                raise
            continue
        total += len(rows)


def purge_before(log: QueryLog, cutoff: datetime, *, tz: ZoneInfo) -> int:
    """Delete every question asked before `cutoff` (aware), keeping its counts. Returns how many went."""
    return _delete_where(log, queries.c.created_at < as_utc(cutoff), tz)


def forget_asker(log: QueryLog, user_id: str, *, tz: ZoneInfo) -> int:
    """Delete one asker's questions with their answers, feedback and Slack metadata (a data-subject request);
    the monthly counts keep them. Returns how many rows went."""
    return _delete_where(log, queries.c.user_id == user_id, tz)


def month_moment(month: str) -> datetime:
    """Noon UTC on the first of `month`: the first of the month in every time zone from UTC−12 to UTC+11."""
    year, mon = (int(x) for x in month.split("-"))
    return datetime(year, mon, 1, 12, tzinfo=UTC)


def aggregate_stat_rows(log: QueryLog, flt: QueryFilter | None) -> list[tuple]:
    """The aggregates as stat rows (created_at, category, outcome, helpful, and None for escalated_at, resolved_at
    and user_id, which a purged question no longer has), for a filter they can answer (by
    outcome, category, origin, feedback and date); none for one they cannot (text search, resolved, unresolved)."""
    if flt is not None and (flt.q or flt.resolved is not None or flt.unresolved):
        return []
    t = monthly_aggregates.c
    stmt = sa.select(t.month, t.channel, t.category, t.outcome, t.helpful_yes, t.helpful_no, t.count)
    if flt is not None:
        if flt.outcome:
            stmt = stmt.where(t.outcome == flt.outcome)
        if flt.category:
            stmt = stmt.where(
                sa.or_(t.category == "other", t.category == "")
                if flt.category == "other"
                else t.category == flt.category
            )
        if flt.origin:
            stmt = stmt.where(t.channel == flt.origin)
    with log.read() as conn:
        found = conn.execute(stmt).all()
    out: list[tuple] = []
    feedback = flt.feedback if flt is not None else None
    for month, _channel, category, outcome, helpful_yes, helpful_no, count in found:
        moment = month_moment(month)
        if flt is not None and (
            (flt.since is not None and moment < as_utc(flt.since))
            or (flt.until is not None and moment >= as_utc(flt.until))
        ):
            continue
        cat = category or None
        parts = {True: helpful_yes, False: helpful_no, None: count - helpful_yes - helpful_no}
        if feedback:
            wanted = {"helpful": True, "not_helpful": False, "none": None}.get(feedback, "?")
            parts = {k: v for k, v in parts.items() if k == wanted}
        for helpful, n in parts.items():
            out.extend([(moment, cat, outcome, helpful, None, None, None)] * n)
    return out


def aggregate_total(log: QueryLog) -> int:
    with log.read() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(monthly_aggregates.c.count), 0))).scalar() or 0)
