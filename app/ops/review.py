"""The query log's admin side: filters from request values, one page of questions, the CSV export, the stats.

Dates are whole days in the configured time zone (`MADOGUCHI_TIMEZONE`); the API and the console use the same
functions, so their lists, files and numbers agree.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.answer import validate_category
from app.clock import zone
from app.errors import BadRequestError, NotFoundError
from app.labels import FEEDBACK_JA, LANGUAGE_JA, ORIGIN_JA, OUTCOME_JA, REASON_JA, category_ja
from app.ops.downloads import CSV_TYPE, Export, spreadsheet_text
from app.ports import QueryLogPort
from app.services import Services
from app.store.querylog import QueryFilter, QueryRecord
from app.store.querylog_stats import compute_stats, parse_bound

# Far past any real log, and small enough that the offset stays a 64-bit integer for the database.
MAX_PAGE = 1_000_000

CSV_COLUMNS = [
    "id",
    "created_at",
    "channel",
    "user_id",
    "question",
    "category",
    "outcome",
    "escalation_reason",
    "confidence",
    "latency_ms",
    "language",
    "feedback",
    "sources",
    "answer",
    "resolution",
    "resolved_by",
    "resolved_at",
    "prompt_version",
    "corpus_version",
]

CSV_HEADERS_JA = {
    "id": "ID",
    "created_at": "日時",
    "channel": "経路",
    "user_id": "質問者",
    "question": "質問",
    "category": "カテゴリ",
    "outcome": "結果",
    "escalation_reason": "エスカレーション理由",
    "confidence": "確信度",
    "latency_ms": "応答時間（ミリ秒）",
    "language": "言語",
    "feedback": "評価",
    "sources": "参照した文書",
    "answer": "ボットの回答",
    "resolution": "担当者の回答",
    "resolved_by": "回答者",
    "resolved_at": "回答日時",
    "prompt_version": "プロンプト版",
    "corpus_version": "文書の版",
}
CSV_LANGS = ("en", "ja")


@dataclass
class QueryPage:
    records: list[QueryRecord]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def to_dict(self) -> dict:
        return {
            "queries": [r.to_dict() for r in self.records],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
        }


def parse_flag(value: str | None, name: str) -> bool | None:
    """ "true"/"false" (also 1/0, yes/no) from a query string; empty → None."""
    if value in (None, ""):
        return None
    low = value.lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no"):
        return False
    raise BadRequestError(
        f"`{name}` must be true or false.", f"`{name}` は true か false で指定してください。", code="bad_flag"
    )


def query_filter(
    services: Services,
    *,
    outcome: str | None = None,
    category: str | None = None,
    since: str | None = None,
    until: str | None = None,
    q: str | None = None,
    feedback: str | None = None,
    resolved: str | None = None,
    origin: str | None = None,
) -> QueryFilter:
    """A filter from request values (strings, empty = not set), validated now so a bad value is a 422."""
    tz = zone(services.settings)
    flt = QueryFilter(
        outcome=outcome or None,
        category=validate_category(category),
        since=parse_bound(since, tz=tz, end=False),
        until=parse_bound(until, tz=tz, end=True),
        q=(q or "").strip() or None,
        feedback=feedback or None,
        resolved=parse_flag(resolved, "resolved"),
        origin=origin or None,
    )
    flt.where()  # validates outcome / feedback
    return flt


def page_of(services: Services, flt: QueryFilter, *, page: int, per_page: int) -> QueryPage:
    """Questions matching `flt`, newest first: page `page` (from 1) of `per_page`."""
    if not 1 <= page <= MAX_PAGE:
        raise BadRequestError(
            f"`page` must be between 1 and {MAX_PAGE}.",
            f"`page` は 1 から {MAX_PAGE} までで指定してください。",
            code="bad_page",
        )
    log = services.require_log()
    total = log.count(flt)
    records = log.search(flt, offset=(page - 1) * per_page, limit=per_page)
    return QueryPage(records=records, total=total, page=page, per_page=per_page)


def get_query(services: Services, query_id: str) -> QueryRecord:
    record = services.require_log().get(query_id)
    if record is None:
        raise NotFoundError(
            f"No question with id {query_id!r} in the log.",
            f"ID {query_id!r} の質問は記録にありません。",
            code="query_not_found",
        )
    return record


# --- the CSV export ---
def csv_lang(lang: str | None) -> str:
    """`en` (codes and ISO times, the default of the API) or `ja` (Japanese headers and values, Excel dates)."""
    if lang in (None, ""):
        return "en"
    if lang not in CSV_LANGS:
        raise BadRequestError(
            f"Unknown lang {lang!r}; use ja or en.",
            f"不明な lang {lang!r} です。ja か en を指定してください。",
            code="bad_lang",
        )
    return lang


def csv_row(r: QueryRecord, tz: ZoneInfo, lang: str = "en") -> list[str]:
    ja = lang == "ja"

    def when(d: datetime | None) -> str:
        if not d:
            return ""
        # Excel reads `YYYY/MM/DD HH:MM:SS` as a date and time; an ISO `T…+09:00` stays text.
        return d.astimezone(tz).strftime("%Y/%m/%d %H:%M:%S") if ja else d.astimezone(tz).isoformat(timespec="seconds")

    def word(table: dict[str, str], code: str | None) -> str | None:
        return table.get(code, code) if ja and code else code

    sources = " | ".join(" > ".join(x for x in (s.get("title"), s.get("section")) if x) for s in r.sources)
    values = {
        "id": r.id,
        "created_at": when(r.created_at),
        "channel": word(ORIGIN_JA, r.origin),
        "user_id": r.user_id,
        "question": r.question,
        "category": category_ja(r.category) if ja else r.category,
        "outcome": word(OUTCOME_JA, r.outcome),
        "escalation_reason": word(REASON_JA, r.escalation_reason),
        "confidence": f"{r.confidence:.4f}",
        "latency_ms": f"{r.latency_ms:.1f}",
        "language": word(LANGUAGE_JA, r.language),
        "feedback": word(FEEDBACK_JA, r.feedback),
        "sources": sources,
        "answer": r.answer,
        "resolution": r.resolution,
        "resolved_by": r.resolved_by,
        "resolved_at": when(r.resolved_at),
        "prompt_version": r.prompt_version,
        "corpus_version": r.corpus_version,
    }
    return [spreadsheet_text(values[c]) for c in CSV_COLUMNS]


def csv_lines(log: QueryLogPort, flt: QueryFilter, tz: ZoneInfo, lang: str = "en") -> Iterator[bytes]:
    """UTF-8 with BOM (so Excel opens Japanese correctly), CRLF line ends; rows fetched page by page."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([CSV_HEADERS_JA[c] for c in CSV_COLUMNS] if lang == "ja" else CSV_COLUMNS)
    yield ("\ufeff" + buf.getvalue()).encode("utf-8")
    for record in log.iter_records(flt):
        buf.seek(0)
        buf.truncate()
        writer.writerow(csv_row(record, tz, lang))
        yield buf.getvalue().encode("utf-8")


def csv_export(services: Services, flt: QueryFilter, *, lang: str | None = None) -> Export:
    """The questions matching `flt` as a CSV download named after the current time (`lang="ja"`: Japanese headers
    and values, times as `YYYY/MM/DD HH:MM:SS` in the staff's zone, which Excel reads as dates)."""
    lang = csv_lang(lang)
    log = services.require_log()
    tz = zone(services.settings)
    stamp = datetime.now(tz).strftime("%Y%m%d-%H%M")
    return Export(filename=f"madoguchi-queries-{stamp}.csv", media_type=CSV_TYPE, content=csv_lines(log, flt, tz, lang))


# --- stats ---
def stats(
    services: Services,
    *,
    since: str | None,
    until: str | None,
    bucket: str,
    category: str | None = None,
    origin: str | None = None,
) -> dict:
    """Questions, deflection, 自己解決率, helpful rate, staff time and 円 saved, staff response time, per
    day/week/month bucket and per category."""
    log = services.require_log()
    tz = zone(services.settings)
    flt = QueryFilter(
        since=parse_bound(since, tz=tz, end=False),
        until=parse_bound(until, tz=tz, end=True),
        category=validate_category(category),
        origin=origin or None,
    )
    if flt.since and flt.until and flt.since >= flt.until:
        raise BadRequestError(
            "`from` must be before `to`.", "`from` は `to` より前の日付にしてください。", code="bad_range"
        )
    return compute_stats(
        log.stat_rows(flt),
        bucket=bucket,
        since=flt.since,
        until=flt.until,
        tz=tz,
        minutes_per_inquiry=services.settings.minutes_per_inquiry,
        hourly_cost_yen=services.settings.staff_hourly_cost_yen,
    )
