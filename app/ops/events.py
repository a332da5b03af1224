"""What happens around a question's escalation and resolution, whatever the channel: the outgoing webhook
(`services.webhooks`) and the escalation hooks (`services.escalation_hooks`; the Slack bot registers one that
posts questions from other channels to the staff channel).

Called by `app.answer.answer()` (a question recorded as escalated), the Slack bot (escalated by a button, answered
in the staff thread) and `app.ops.resolutions` (answered in the console or the admin API). Never raises: the
question is already recorded, and a notification failing is logged, not passed on to the asker.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.store.querylog import QueryRecord

if TYPE_CHECKING:
    from app.services import Services

logger = logging.getLogger(__name__)

SILENT_ORIGINS = frozenset({"eval", "bench"})  # evaluation runs notify nobody


def event_data(record: QueryRecord) -> dict:
    """The webhook body's fields (beside `event`, `delivery_id`, `occurred_at`)."""

    def iso(d):
        return d.isoformat() if d else None

    return {
        "query_id": record.id,
        "channel": record.origin,
        "user_id": record.user_id,
        "question": record.question,
        "category": record.category,
        "language": record.language,
        "outcome": record.outcome,
        "escalation_reason": record.escalation_reason,
        "asked_at": iso(record.created_at),
        "escalated_at": iso(record.escalated_at),
        "staff_answer": record.resolution,
        "resolved_at": iso(record.resolved_at),
        "resolved_by": record.resolved_by,
        "assignee": record.assignee,
    }


def _wanted(services: Services) -> bool:
    return services.query_log is not None and (services.webhooks is not None or bool(services.escalation_hooks))


def question_escalated(services: Services, query_id: str) -> None:
    """A question has just gone to the staff (recorded as escalated, or escalated later by its asker)."""
    if not _wanted(services):
        return
    try:
        assert services.query_log is not None
        record = services.query_log.get(query_id)
        if record is None or record.origin in SILENT_ORIGINS:
            return
        if services.webhooks is not None:
            services.webhooks.emit("question.escalated", event_data(record))
        for hook in list(services.escalation_hooks):
            try:
                hook(record)
            except Exception:  # noqa: BLE001 - one hook failing must not stop the others
                logger.exception("escalation hook %r failed for query %s", hook, query_id)
    except Exception:  # noqa: BLE001 - the question is recorded; a notification must not fail the answer
        logger.exception("could not announce the escalation of query %s", query_id)


def question_resolved(services: Services, record: QueryRecord) -> None:
    """The staff answered a question (console, admin API or the Slack staff thread)."""
    if services.webhooks is None or record.origin in SILENT_ORIGINS:
        return
    try:
        services.webhooks.emit("question.resolved", event_data(record))
    except Exception:  # noqa: BLE001
        logger.exception("could not announce the resolution of query %s", record.id)
