"""Retention and data-subject requests over the query log (`MADOGUCHI_LOG_RETENTION_DAYS`, `madoguchi purge`,
`madoguchi forget --user`, `DELETE /api/admin/askers/{user_id}`). The counts of what goes stay in the monthly
aggregates (app/store/querylog_retention.py), so the stats and the monthly report still count it."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from app.clock import utcnow, zone
from app.errors import BadRequestError
from app.ports import QueryLogPort
from app.services import Services
from app.settings import Settings

logger = logging.getLogger(__name__)

PURGE_INTERVAL_S = 3600.0  # how often a server deletes what passed the retention period
MAX_USER_ID = 200  # the column's length


def purge_expired(services: Services, *, days: int | None = None) -> int:
    """Delete the questions older than `days` (default: MADOGUCHI_LOG_RETENTION_DAYS); 0 rows when unset."""
    return purge_log(services.require_log(), services.settings, days=days)


def purge_log(log: QueryLogPort, settings: Settings, *, days: int | None = None) -> int:
    """`purge_expired` over a query log alone (the CLI opens no chunk store)."""
    days = days if days is not None else settings.log_retention_days
    if days is None:
        return 0
    if days < 1:
        raise BadRequestError(
            f"The retention period must be at least 1 day (got {days}).",
            f"保存期間は 1 日以上で指定してください（{days} が指定されました）。",
            code="bad_retention",
        )
    deleted = log.purge_before(utcnow() - timedelta(days=days), tz=zone(settings))
    if deleted:
        logger.info("query log retention (%d days): %d questions deleted, their counts kept", days, deleted)
    return deleted


def forget_asker(services: Services, user_id: str) -> int:
    """Delete everything the log keeps of one asker (questions, answers, feedback, Slack metadata)."""
    return forget_in_log(services.require_log(), services.settings, user_id)


def forget_in_log(log: QueryLogPort, settings: Settings, user_id: str) -> int:
    """`forget_asker` over a query log alone (the CLI opens no chunk store)."""
    user_id = (user_id or "").strip()
    if not user_id or len(user_id) > MAX_USER_ID:
        raise BadRequestError(
            f"Give the asker's user id (1 to {MAX_USER_ID} characters).",
            f"質問者のユーザー ID を指定してください（1〜{MAX_USER_ID} 文字）。",
            code="bad_user_id",
        )
    deleted = log.forget_asker(user_id, tz=zone(settings))
    logger.info("forgot an asker: %d questions deleted", deleted)
    return deleted


async def retention_loop(services: Services, *, interval_s: float = PURGE_INTERVAL_S) -> None:
    """A server's retention: at start-up and then every `interval_s`. A failure is logged and retried later."""
    if services.settings.log_retention_days is None or services.query_log is None:
        return
    while True:
        try:
            await asyncio.to_thread(purge_expired, services)
        except Exception:
            logger.exception("query log retention failed; retrying in %.0f s", interval_s)
        await asyncio.sleep(interval_s)
