"""The monthly KPI report the 総務 department hands to management: one calendar month (in the staff's time zone)
of the query log — 時間 (staff time saved), コスト (the same in 円), 満足度 (helpful rate, 自己解決率), the staff
response time — per category and per department, the unresolved questions asked most, and the last twelve months
as a trend. `monthly_report` gives the figures as data; `report_xlsx.workbook_bytes` writes the Excel file."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from datetime import date, datetime, time
from typing import Any

from app.clock import utcnow, zone
from app.errors import BadRequestError
from app.ops import departments, unresolved
from app.services import Services
from app.store.querylog import QueryFilter
from app.store.querylog_stats import compute_stats, next_bucket

TREND_MONTHS = 12
TOP_UNRESOLVED = 20
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str | None, *, today: date) -> date:
    """`YYYY-MM` → the first day of that month; empty → the current month."""
    if text is None or not text.strip():
        return today.replace(day=1)
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise BadRequestError(
            f"Bad month {text!r}: use YYYY-MM (e.g. 2026-11).",
            f"月 {text!r} が不正です。YYYY-MM 形式（例: 2026-11）で指定してください。",
            code="bad_month",
        )
    return date(int(m.group(1)), int(m.group(2)), 1)


def _months_back(first: date, n: int) -> date:
    index = first.year * 12 + first.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def _normalized(question: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", question)).lower().rstrip("?？。") or question


def unresolved_top(services: Services, *, since: datetime, until: datetime, limit: int = TOP_UNRESOLVED) -> list:
    """Unresolved questions of the period (escalated or marked unhelpful, no staff answer yet) grouped by meaning as
    on the 「未解決の質問」 page (the same question — ignoring width, case, spaces and a trailing ? — always in one
    group); biggest group first. At most the newest `unresolved.MAX_QUESTIONS` questions are grouped."""
    log = services.require_log()
    records = log.search(QueryFilter(since=since, until=until, unresolved=True), limit=unresolved.MAX_QUESTIONS)
    originals = {r.id: r for r in records}
    normalized = [dataclasses.replace(r, question=_normalized(r.question)) for r in records]
    out = []
    for g in unresolved.cluster(normalized, embedder=services.embedder)[:limit]:
        times = [r.created_at for r in g.records]
        out.append(
            {
                "question": originals[g.representative.id].question,
                "count": g.size,
                "category": g.category or "other",
                "first_at": min(times),
                "last_at": max(times),
                "examples": [originals[r.id].question for r in g.records[1:4]],
            }
        )
    return out


def monthly_report(services: Services, *, month: str | None) -> dict:
    """The figures of one month (`YYYY-MM`, default: this month) and the twelve months up to it."""
    log = services.require_log()
    settings = services.settings
    tz = zone(settings)
    first = parse_month(month, today=datetime.now(tz).date())
    since = datetime.combine(first, time(0), tzinfo=tz)
    until = datetime.combine(next_bucket(first, "month"), time(0), tzinfo=tz)
    trend_since = datetime.combine(_months_back(first, TREND_MONTHS - 1), time(0), tzinfo=tz)
    depts = departments.mapping(services)
    kwargs: dict[str, Any] = {
        "bucket": "month",
        "tz": tz,
        "minutes_per_inquiry": settings.minutes_per_inquiry,
        "hourly_cost_yen": settings.staff_hourly_cost_yen,
    }
    month_stats = compute_stats(
        log.stat_rows(QueryFilter(since=since, until=until)), since=since, until=until, departments=depts, **kwargs
    )
    trend = compute_stats(
        log.stat_rows(QueryFilter(since=trend_since, until=until)), since=trend_since, until=until, **kwargs
    )
    return {
        "month": first.strftime("%Y-%m"),
        "from": since.isoformat(),
        "to": until.isoformat(),
        "timezone": str(tz),
        "minutes_per_inquiry": settings.minutes_per_inquiry,
        "hourly_cost_yen": settings.staff_hourly_cost_yen,
        "generated_at": utcnow().astimezone(tz).isoformat(timespec="seconds"),
        "totals": month_stats["totals"],
        "categories": month_stats["categories"],
        "departments": month_stats["departments"],
        "unresolved_top": [
            {**g, "first_at": g["first_at"].isoformat(), "last_at": g["last_at"].isoformat()}
            for g in unresolved_top(services, since=since, until=until)
        ],
        "trend": [{k: v for k, v in b.items() if k != "categories"} for b in trend["buckets"]],
    }
