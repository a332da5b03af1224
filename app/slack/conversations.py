"""Where the Slack bot keeps track of questions: the query log, or a process-local stand-in without one.

The bot needs, per question, the Slack coordinates (channel, thread, asker, the escalation post) and a way to see
each Slack event only once. With a query log (`services.query_log`, SQLite or PostgreSQL) both live in the
database, so several replicas behind one Slack app share them (`claim_event` is atomic across processes).
Without one, `LocalLog` keeps them in memory: correct for a single process only, and forgotten on restart.

Meta keys written on each Slack question:
    slack_team, slack_channel, slack_user, slack_via (mention | dm | slash), slack_thread_ts (the asker's
    thread, absent for /faq), slack_reply_ts (the bot's answer), slack_escalation_channel, slack_escalation_ts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict
from typing import Any

from app.clock import utcnow
from app.result import AnswerResult
from app.store.querylog import QueryRecord


class LocalLog:
    """In-process stand-in for the query log's Slack-facing methods (`app.ports.SlackLogPort`). Single process only."""

    MAX_RECORDS = 5000
    EVENT_TTL_S = 2 * 24 * 3600

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: OrderedDict[str, QueryRecord] = OrderedDict()
        self._events: dict[str, float] = {}

    def claim_event(self, key: str) -> bool:
        now = time.time()
        with self._lock:
            if key in self._events:
                return False
            self._events[key] = now
            if len(self._events) > 10 * self.MAX_RECORDS:
                self._events = {k: v for k, v in self._events.items() if now - v < self.EVENT_TTL_S}
            return True

    def record(self, result: AnswerResult, *, meta: dict | None = None) -> None:
        rec = QueryRecord(
            id=result.query_id,
            created_at=utcnow(),
            origin=result.origin,
            user_id=result.user_id,
            question=result.question,
            answer=result.answer,
            category=result.category,
            outcome=result.outcome,
            escalation_reason=result.escalation_reason,
            confidence=result.confidence,
            sources=[asdict(s) for s in result.sources],
            latency_ms=result.latency_ms,
            language=result.language,
            prompt_version=result.prompt_version,
            corpus_version=result.corpus_version,
            meta=dict(meta or {}),
        )
        with self._lock:
            self._records[rec.id] = rec
            while len(self._records) > self.MAX_RECORDS:
                self._records.popitem(last=False)

    def get(self, query_id: str) -> QueryRecord | None:
        with self._lock:
            return self._records.get(query_id)

    def _change(self, query_id: str, **values: Any) -> QueryRecord | None:
        with self._lock:
            rec = self._records.get(query_id)
            if rec is None:
                return None
            for k, v in values.items():
                setattr(rec, k, v)
            return rec

    def set_feedback(self, query_id: str, helpful: bool) -> QueryRecord | None:
        return self._change(query_id, helpful=bool(helpful))

    def escalate(self, query_id: str, reason: str) -> QueryRecord | None:
        return self._change(query_id, outcome="escalated", escalation_reason=reason)

    def update_meta(self, query_id: str, **values: Any) -> QueryRecord | None:
        with self._lock:
            rec = self._records.get(query_id)
            if rec is not None:
                rec.meta = {**rec.meta, **values}
            return rec

    def find_by_meta(self, key: str, value: object) -> QueryRecord | None:
        with self._lock:
            for rec in reversed(self._records.values()):
                if key in rec.meta and str(rec.meta[key]) == str(value):
                    return rec
        return None

    def resolve(self, query_id: str, *, answer: str, by: str | None = None) -> QueryRecord | None:
        return self._change(query_id, resolution=answer.strip(), resolved_by=by, resolved_at=utcnow())

    def of_asker(self, user_id: str, *, limit: int = 50) -> list[QueryRecord]:
        with self._lock:
            found = [r for r in reversed(self._records.values()) if r.user_id == user_id]
        return found[:limit]

    def assign(self, query_id: str, assignee: str) -> QueryRecord | None:
        return self._change(query_id, assignee=assignee, assigned_at=utcnow())
