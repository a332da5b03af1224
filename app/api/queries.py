"""Admin routes over the query log: list with filters, CSV export, resolve, stats."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.answer import validate_category
from app.api.deps import AdminDep, ServicesDep
from app.errors import BadRequestError, NotFoundError
from app.faq import require_log, resolve_questions
from app.store.querylog import QueryFilter, QueryRecord
from app.store.querylog_stats import compute_stats, parse_bound

router = APIRouter(tags=["admin"])

CSV_COLUMNS = [
    "id", "created_at", "channel", "user_id", "question", "category", "outcome", "escalation_reason", "confidence",
    "latency_ms", "language", "feedback", "sources", "answer", "resolution", "resolved_by", "resolved_at",
    "prompt_version", "corpus_version",
]


def zone(services) -> ZoneInfo:
    return ZoneInfo(services.settings.timezone)


def _flag(value: str | None, name: str) -> bool | None:
    if value in (None, ""):
        return None
    low = value.lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no"):
        return False
    raise BadRequestError(f"`{name}` must be true or false.", f"`{name}` は true か false で指定してください。", code="bad_flag")


def build_filter(services, *, outcome=None, category=None, since=None, until=None, q=None, feedback=None, resolved=None,
                 channel=None) -> QueryFilter:
    tz = zone(services)
    flt = QueryFilter(
        outcome=outcome or None, category=validate_category(category), since=parse_bound(since, tz=tz, end=False),
        until=parse_bound(until, tz=tz, end=True), q=(q or "").strip() or None, feedback=feedback or None,
        resolved=_flag(resolved, "resolved"), channel=channel or None,
    )
    flt.where()  # validate outcome / feedback now, as a 422
    return flt


@router.get("/api/admin/queries")
async def list_queries(services: ServicesDep, _: AdminDep, outcome: str | None = None, category: str | None = None,
                       from_: str | None = Query(None, alias="from"), to: str | None = None, q: str | None = None,
                       feedback: str | None = None, resolved: str | None = None, channel: str | None = None,
                       page: int = Query(1, ge=1), per_page: int = Query(50, ge=1, le=500)) -> dict:
    log = require_log(services)
    flt = build_filter(services, outcome=outcome, category=category, since=from_, until=to, q=q, feedback=feedback,
                       resolved=resolved, channel=channel)
    total = await run_in_threadpool(log.count, flt)
    rows = await run_in_threadpool(log.search, flt, offset=(page - 1) * per_page, limit=per_page)
    return {"queries": [r.to_dict() for r in rows], "total": total, "page": page, "per_page": per_page,
            "pages": max(1, math.ceil(total / per_page))}


def _cell(value) -> str:
    """Text as Excel should show it: a cell starting with = + - @ would run as a formula, so it gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_row(r: QueryRecord, tz: ZoneInfo) -> list[str]:
    def when(d: datetime | None) -> str:
        return d.astimezone(tz).isoformat(timespec="seconds") if d else ""

    sources = " | ".join(" > ".join(x for x in (s.get("title"), s.get("section")) if x) for s in r.sources)
    values = {
        "id": r.id, "created_at": when(r.created_at), "channel": r.channel, "user_id": r.user_id, "question": r.question,
        "category": r.category, "outcome": r.outcome, "escalation_reason": r.escalation_reason,
        "confidence": f"{r.confidence:.4f}", "latency_ms": f"{r.latency_ms:.1f}", "language": r.language,
        "feedback": r.feedback, "sources": sources, "answer": r.answer, "resolution": r.resolution,
        "resolved_by": r.resolved_by, "resolved_at": when(r.resolved_at), "prompt_version": r.prompt_version,
        "corpus_version": r.corpus_version,
    }
    return [_cell(values[c]) for c in CSV_COLUMNS]


def csv_lines(log, flt: QueryFilter, tz: ZoneInfo) -> Iterator[bytes]:
    """UTF-8 with BOM (so Excel opens Japanese correctly), CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield ("\ufeff" + buf.getvalue()).encode("utf-8")
    for record in log.iter_records(flt):
        buf.seek(0)
        buf.truncate()
        writer.writerow(csv_row(record, tz))
        yield buf.getvalue().encode("utf-8")


@router.get("/api/admin/queries.csv")
def queries_csv(services: ServicesDep, _: AdminDep, outcome: str | None = None, category: str | None = None,
                from_: str | None = Query(None, alias="from"), to: str | None = None, q: str | None = None,
                feedback: str | None = None, resolved: str | None = None, channel: str | None = None):
    log = require_log(services)
    flt = build_filter(services, outcome=outcome, category=category, since=from_, until=to, q=q, feedback=feedback,
                       resolved=resolved, channel=channel)
    stamp = datetime.now(zone(services)).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        csv_lines(log, flt, zone(services)), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="madoguchi-queries-{stamp}.csv"'},
    )


@router.get("/api/admin/queries/{query_id}")
async def get_query(query_id: str, services: ServicesDep, _: AdminDep) -> dict:
    record = await run_in_threadpool(require_log(services).get, query_id)
    if record is None:
        raise NotFoundError(f"No question with id {query_id!r} in the log.", f"ID {query_id!r} の質問は記録にありません。", code="query_not_found")
    return record.to_dict()


class ResolveRequest(BaseModel):
    answer: str = Field(..., min_length=1, max_length=20000, description="The staff's answer, relayed to the asker.")
    add_to_faq: bool = Field(False, description="Also save the question and this answer as an FAQ entry.")
    faq_question: str | None = Field(None, max_length=2000, description="Question text of the FAQ entry (default: the asked question).")
    category: str | None = Field(None, description="Category of the FAQ entry (default: the question's).")
    by: str | None = Field(None, max_length=200, description="Who answered (shown in the log).")


@router.post("/api/admin/queries/{query_id}/resolve")
async def resolve(query_id: str, body: ResolveRequest, services: ServicesDep, _: AdminDep) -> dict:
    out = await resolve_questions(services, [query_id], answer=body.answer, by=body.by or "admin", add_to_faq=body.add_to_faq,
                                  faq_question=body.faq_question, category=body.category)
    data = out.to_dict()
    data["query"] = data["queries"][0]
    return data


def stats_for(services, *, since: str | None, until: str | None, bucket: str, category: str | None = None,
              channel: str | None = None) -> dict:
    log = require_log(services)
    tz = zone(services)
    flt = QueryFilter(since=parse_bound(since, tz=tz, end=False), until=parse_bound(until, tz=tz, end=True),
                      category=validate_category(category), channel=channel or None)
    if flt.since and flt.until and flt.since >= flt.until:
        raise BadRequestError("`from` must be before `to`.", "`from` は `to` より前の日付にしてください。", code="bad_range")
    return compute_stats(log.stat_rows(flt), bucket=bucket, since=flt.since, until=flt.until, tz=tz,
                         minutes_per_inquiry=services.settings.minutes_per_inquiry)


@router.get("/api/admin/stats")
async def stats(services: ServicesDep, _: AdminDep, from_: str | None = Query(None, alias="from"), to: str | None = None,
                bucket: str = Query("day", description="day | week"), category: str | None = None, channel: str | None = None) -> dict:
    return await run_in_threadpool(stats_for, services, since=from_, until=to, bucket=bucket, category=category, channel=channel)
