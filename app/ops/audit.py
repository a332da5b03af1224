"""The audit trail: who changed what, when, with the value before and after. Every service that changes something
(FAQ entries, resolutions, document uploads, the company words, staff accounts) calls `record_audit` itself, so
the admin API, the console and the CLI all record the same way. Read by `GET /api/admin/audit` and the console's
「変更履歴」 page (with a CSV export)."""

from __future__ import annotations

import csv
import io
import logging
import unicodedata
from collections.abc import Iterator
from datetime import datetime

from app.clock import zone
from app.errors import BadRequestError
from app.ops.downloads import CSV_TYPE, Export, spreadsheet_text
from app.ports import QueryLogPort
from app.services import Services
from app.store.audit import AuditEntry, AuditFilter
from app.store.querylog_stats import parse_bound

logger = logging.getLogger(__name__)

ADMIN_TOKEN_ACTOR = "admin-token"  # changes made with the shared MADOGUCHI_ADMIN_TOKEN
SYSTEM_ACTOR = "system"  # changes with no person behind them (a caller that passed no actor)
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000

# Every action recorded, in the order the console offers them as a filter.
ACTIONS = (
    "faq.create",
    "faq.update",
    "faq.delete",
    "faq.restore",
    "query.resolve",
    "document.upload",
    "document.delete",
    "glossary.set",
    "glossary.delete",
    "user.add",
    "user.disable",
    "user.enable",
    "user.role",
    "user.password",
    "user.token",
)


def audit_to(
    log: QueryLogPort,
    *,
    actor: str | None,
    action: str,
    target_type: str,
    target_id: str | int,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """One row of the trail in `log` (for callers that hold the log but not the services: the CLI)."""
    return log.audit.add(
        actor=actor or SYSTEM_ACTOR,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
    )


def record_audit(
    services: Services,
    *,
    actor: str | None,
    action: str,
    target_type: str,
    target_id: str | int,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry | None:
    """Record a change (`action` e.g. "document.delete", `actor` the account name or "admin-token"). Without a
    query log there is nowhere to record: logged, and None."""
    if services.query_log is None:
        logger.info("audit (no query log): %s %s %s:%s", actor, action, target_type, target_id)
        return None
    return audit_to(
        services.query_log,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )


def audit_filter(
    services: Services,
    *,
    since: str | None = None,
    until: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
) -> AuditFilter:
    """A filter from request values (empty = not set); dates as `YYYY-MM-DD` (the staff's time zone) or ISO."""
    tz = zone(services.settings)
    return AuditFilter(
        since=parse_bound(since, tz=tz, end=False),
        until=parse_bound(until, tz=tz, end=True),
        actor=_text(actor, "actor"),
        action=_text(action, "action"),
        target_type=_text(target_type, "target_type"),
        target_id=_text(target_id, "target_id"),
    )


def _text(value: str | None, name: str) -> str | None:
    """A filter value: at most 255 characters, no control characters (PostgreSQL takes no NUL)."""
    text = (value or "").strip()
    if len(text) > 255 or any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise BadRequestError(
            f"`{name}` must be at most 255 characters without control characters.",
            f"`{name}` は制御文字を含まない 255 文字以内で指定してください。",
            code="bad_filter",
        )
    return text or None


def page_of(services: Services, flt: AuditFilter, *, page: int = 1, per_page: int = 100) -> dict:
    """Changes matching `flt`, newest first, as the API's JSON."""
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequestError(
            f"`page` must be 1–{MAX_PAGE} and `per_page` 1–{MAX_PER_PAGE}.",
            f"`page` は 1〜{MAX_PAGE}、`per_page` は 1〜{MAX_PER_PAGE} で指定してください。",
            code="bad_page",
        )
    log = services.require_log()
    items = log.audit.search(flt, offset=(page - 1) * per_page, limit=per_page)
    return {
        "items": [e.to_dict() for e in items],
        "total": log.audit.count(flt),
        "page": page,
        "per_page": per_page,
    }


def entries(services: Services, flt: AuditFilter, *, limit: int | None = 200) -> list[AuditEntry]:
    return services.require_log().audit.search(flt, limit=limit)


def actors(services: Services) -> list[str]:
    return services.require_log().audit.actors()


CSV_HEADERS = {
    "ja": ["日時", "変更した人", "操作", "対象の種類", "対象", "変更前", "変更後"],
    "en": ["at", "actor", "action", "target_type", "target_id", "before", "after"],
}


def csv_export(services: Services, flt: AuditFilter, *, lang: str = "ja") -> Export:
    """The trail as CSV (UTF-8 with BOM so Excel reads the Japanese; every cell spreadsheet-safe); times in the
    staff's time zone."""
    import json

    tz = zone(services.settings)
    rows = entries(services, flt, limit=None)

    def when(d: datetime) -> str:
        return d.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    def content() -> Iterator[bytes]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_HEADERS.get(lang, CSV_HEADERS["ja"]))
        yield ("\ufeff" + buf.getvalue()).encode("utf-8")
        for e in rows:
            buf.seek(0)
            buf.truncate()
            cells = [
                when(e.at),
                e.actor,
                e.action,
                e.target_type,
                e.target_id,
                "" if e.before is None else json.dumps(e.before, ensure_ascii=False),
                "" if e.after is None else json.dumps(e.after, ensure_ascii=False),
            ]
            writer.writerow([spreadsheet_text(c) for c in cells])
            yield buf.getvalue().encode("utf-8")

    return Export(filename="madoguchi-audit.csv", media_type=CSV_TYPE, content=content())
