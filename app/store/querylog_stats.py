"""Stats of the query log: per day/week bucket and per category — questions, answered, escalated, deflection rate,
helpful rate and staff minutes saved (answered and not marked unhelpful × minutes per inquiry).

Buckets are calendar days (or ISO weeks starting Monday) in the configured time zone; `from`/`to` dates are
inclusive days in that zone. Pure functions over `QueryLog.stat_rows()`, so the arithmetic is the same on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.errors import BadRequestError

BUCKETS = ("day", "week")
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
    return day - timedelta(days=day.weekday()) if bucket == "week" else day


def _empty() -> dict:
    return {"questions": 0, "answered": 0, "escalated": 0, "helpful": 0, "not_helpful": 0, "saved_questions": 0}


def _finish(c: dict, minutes: float) -> dict:
    rated = c["helpful"] + c["not_helpful"]
    return {
        "questions": c["questions"],
        "answered": c["answered"],
        "escalated": c["escalated"],
        "deflection_rate": round(c["answered"] / c["questions"], 4) if c["questions"] else None,
        "helpful": c["helpful"],
        "not_helpful": c["not_helpful"],
        "helpful_rate": round(c["helpful"] / rated, 4) if rated else None,
        "staff_minutes_saved": round(c["saved_questions"] * minutes, 2),
    }


def _add(c: dict, outcome: str, helpful: bool | None) -> None:
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


def compute_stats(
    rows: list[tuple],
    *,
    bucket: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    tz: ZoneInfo,
    minutes_per_inquiry: float,
) -> dict:
    """`rows`: (created_at UTC, category, outcome, helpful). `until` is exclusive. Empty buckets inside the range
    are included (zeros) so charts show gaps as gaps."""
    if bucket not in BUCKETS:
        raise BadRequestError(
            f"Unknown bucket {bucket!r}; use day or week.",
            f"不明な bucket {bucket!r} です。day か week を指定してください。",
            code="bad_bucket",
        )
    totals = _empty()
    per_cat: dict[str, dict] = {}
    per_bucket: dict[date, dict] = {}
    per_bucket_cat: dict[date, dict[str, dict]] = {}
    for created_at, category, outcome, helpful in rows:
        cat = category or "other"
        key = bucket_of(created_at.astimezone(tz).date(), bucket)
        for c in (
            totals,
            per_cat.setdefault(cat, _empty()),
            per_bucket.setdefault(key, _empty()),
            per_bucket_cat.setdefault(key, {}).setdefault(cat, _empty()),
        ):
            _add(c, outcome, helpful)
    first = bucket_of(since.astimezone(tz).date(), bucket) if since else (min(per_bucket) if per_bucket else None)
    last = (
        bucket_of((until - timedelta(microseconds=1)).astimezone(tz).date(), bucket)
        if until
        else (max(per_bucket) if per_bucket else None)
    )
    step = timedelta(days=7 if bucket == "week" else 1)
    keys: list[date] = []
    if first is not None and last is not None:
        if (last - first) / step > MAX_BUCKETS:
            raise BadRequestError(
                f"Range too long for {bucket} buckets (more than {MAX_BUCKETS}); narrow it or use bucket=week.",
                f"期間が長すぎます（{MAX_BUCKETS} 区間超）。期間を狭めるか bucket=week にしてください。",
                code="range_too_long",
            )
        day = first
        while day <= last:
            keys.append(day)
            day += step
    buckets = []
    for key in keys:
        entry: dict[str, Any] = {"start": key.isoformat(), "end": (key + step).isoformat()}
        entry.update(_finish(per_bucket.get(key, _empty()), minutes_per_inquiry))
        entry["categories"] = {
            cat: _finish(c, minutes_per_inquiry) for cat, c in sorted(per_bucket_cat.get(key, {}).items())
        }
        buckets.append(entry)
    return {
        "bucket": bucket,
        "from": since.isoformat() if since else None,
        "to": until.isoformat() if until else None,
        "timezone": str(tz),
        "minutes_per_inquiry": minutes_per_inquiry,
        "totals": _finish(totals, minutes_per_inquiry),
        "categories": {cat: _finish(c, minutes_per_inquiry) for cat, c in sorted(per_cat.items())},
        "buckets": buckets,
    }
