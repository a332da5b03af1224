"""Stats of the query log: per day/week/month bucket, per category and per department — questions, answered,
escalated, deflection rate (answered / questions), self-resolution rate 自己解決率 (answered and not marked
unhelpful / questions), helpful rate, staff minutes saved (answered and not marked unhelpful × minutes per inquiry),
the same in 円 (× hourly staff cost / 60) and the staff response time (escalation → staff answer: median and 90th
percentile in minutes, nearest rank).

Buckets are calendar days, ISO weeks starting Monday or calendar months in the configured time zone; `from`/`to`
dates are inclusive days in that zone. Pure functions over `QueryLog.stat_rows()`, so the arithmetic is the same
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
import statistics
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.errors import BadRequestError

BUCKETS = ("day", "week", "month")
NO_DEPARTMENT = ""  # askers missing from the department mapping
MAX_BUCKETS = 1500


def parse_bound(value: str | None, *, tz: ZoneInfo, end: bool) -> datetime | None:
    """`YYYY-MM-DD` (a whole day in `tz`; as the end bound: up to the end of that day) or an ISO datetime."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(0), tzinfo=tz)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(
            f"Bad date {text!r}: use YYYY-MM-DD or an ISO date-time.",
            f"日付 {text!r} が不正です。YYYY-MM-DD 形式で指定してください。",
            code="bad_date",
        ) from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def bucket_of(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def next_bucket(key: date, bucket: str) -> date:
    if bucket == "month":
        return date(key.year + key.month // 12, key.month % 12 + 1, 1)
    return key + timedelta(days=7 if bucket == "week" else 1)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (`q` in 0..1) of `values`: the smallest value with at least q of them at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _empty() -> dict:
    return {
        "questions": 0,
        "answered": 0,
        "escalated": 0,
        "helpful": 0,
        "not_helpful": 0,
        "saved_questions": 0,
        "resolved": 0,
        "response_minutes": [],
    }


def _finish(c: dict, minutes: float, hourly_cost_yen: float = 0.0) -> dict:
    rated = c["helpful"] + c["not_helpful"]
    saved = round(c["saved_questions"] * minutes, 2)
    waits = c["response_minutes"]
    median = statistics.median(waits) if waits else None
    p90 = percentile(waits, 0.9)
    return {
        "questions": c["questions"],
        "answered": c["answered"],
        "escalated": c["escalated"],
        "deflection_rate": round(c["answered"] / c["questions"], 4) if c["questions"] else None,
        "self_resolved": c["saved_questions"],
        "self_resolution_rate": round(c["saved_questions"] / c["questions"], 4) if c["questions"] else None,
        "helpful": c["helpful"],
        "not_helpful": c["not_helpful"],
        "helpful_rate": round(c["helpful"] / rated, 4) if rated else None,
        "staff_minutes_saved": saved,
        "staff_cost_saved_yen": round(saved / 60 * hourly_cost_yen),
        "staff_answered": c["resolved"],
        "response_minutes_median": round(median, 1) if median is not None else None,
        "response_minutes_p90": round(p90, 1) if p90 is not None else None,
    }


def _add(
    c: dict, outcome: str, helpful: bool | None, escalated_at: datetime | None, resolved_at: datetime | None
) -> None:
    c["questions"] += 1
    if outcome == "answered":
        c["answered"] += 1
        if helpful is not False:
            c["saved_questions"] += 1
    else:
        c["escalated"] += 1
    if helpful is True:
        c["helpful"] += 1
    elif helpful is False:
        c["not_helpful"] += 1
    if resolved_at is not None:
        c["resolved"] += 1
        if escalated_at is not None:
            c["response_minutes"].append(max(0.0, (resolved_at - escalated_at).total_seconds() / 60))


def compute_stats(
    rows: list[tuple],
    *,
    bucket: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    tz: ZoneInfo,
    minutes_per_inquiry: float,
    hourly_cost_yen: float = 0.0,
    departments: dict[str, str] | None = None,
) -> dict:
    """`rows`: (created_at UTC, category, outcome, helpful, escalated_at, resolved_at, user_id); the last three
    may be missing. `until` is exclusive. Empty buckets inside the range are included (zeros) so charts show gaps
    as gaps. With `departments` (user id → department) the result has per-department figures too."""
    if bucket not in BUCKETS:
        raise BadRequestError(
            f"Unknown bucket {bucket!r}; use day, week or month.",
            f"不明な bucket {bucket!r} です。day / week / month のいずれかを指定してください。",
            code="bad_bucket",
        )
    totals = _empty()
    per_cat: dict[str, dict] = {}
    per_dept: dict[str, dict] = {}
    per_bucket: dict[date, dict] = {}
    per_bucket_cat: dict[date, dict[str, dict]] = {}
    for row in rows:
        created_at, category, outcome, helpful = row[:4]
        escalated_at, resolved_at, user_id = (tuple(row[4:7]) + (None, None, None))[:3]
        cat = category or "other"
        key = bucket_of(created_at.astimezone(tz).date(), bucket)
        counters = [
            totals,
            per_cat.setdefault(cat, _empty()),
            per_bucket.setdefault(key, _empty()),
            per_bucket_cat.setdefault(key, {}).setdefault(cat, _empty()),
        ]
        if departments is not None:
            counters.append(per_dept.setdefault(departments.get(user_id or "", NO_DEPARTMENT), _empty()))
        for c in counters:
            _add(c, outcome, helpful, escalated_at, resolved_at)
    first = bucket_of(since.astimezone(tz).date(), bucket) if since else (min(per_bucket) if per_bucket else None)
    last = (
        bucket_of((until - timedelta(microseconds=1)).astimezone(tz).date(), bucket)
        if until
        else (max(per_bucket) if per_bucket else None)
    )
    keys: list[date] = []
    if first is not None and last is not None:
        if (last - first).days / {"day": 1, "week": 7, "month": 28}[bucket] > MAX_BUCKETS:
            raise BadRequestError(
                f"Range too long for {bucket} buckets (more than {MAX_BUCKETS}); narrow it or use bucket=week.",
                f"期間が長すぎます（{MAX_BUCKETS} 区間超）。期間を狭めるか bucket=week にしてください。",
                code="range_too_long",
            )
        day = first
        while day <= last:
            keys.append(day)
            day = next_bucket(day, bucket)
    m, yen = minutes_per_inquiry, hourly_cost_yen
    buckets = []
    for key in keys:
        entry: dict[str, Any] = {"start": key.isoformat(), "end": next_bucket(key, bucket).isoformat()}
        entry.update(_finish(per_bucket.get(key, _empty()), m, yen))
        entry["categories"] = {cat: _finish(c, m, yen) for cat, c in sorted(per_bucket_cat.get(key, {}).items())}
        buckets.append(entry)
    out: dict[str, Any] = {
        "bucket": bucket,
        "from": since.isoformat() if since else None,
        "to": until.isoformat() if until else None,
        "timezone": str(tz),
        "minutes_per_inquiry": minutes_per_inquiry,
        "hourly_cost_yen": hourly_cost_yen,
        "totals": _finish(totals, m, yen),
        "categories": {cat: _finish(c, m, yen) for cat, c in sorted(per_cat.items())},
        "buckets": buckets,
    }
    if departments is not None:
        out["departments"] = {d: _finish(c, m, yen) for d, c in sorted(per_dept.items())}
    return out
