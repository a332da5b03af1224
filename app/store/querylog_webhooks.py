"""The outgoing webhook's tables in the query-log database (app/ops/webhooks.py): the outbox (each event until it
is delivered or given up, so a restart resumes it) and the delivery log (one row per attempt)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.clock import as_utc, utcnow
from app.store.querylog_faq import Transactions
from app.store.querylog_schema import webhook_deliveries, webhook_outbox


@dataclass
class DeliveryAttempt:
    id: int
    delivery_id: str
    event: str
    query_id: str | None
    attempt: int
    status_code: int | None
    error: str | None
    ok: bool
    at: datetime

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "delivery_id": self.delivery_id,
            "event": self.event,
            "query_id": self.query_id,
            "attempt": self.attempt,
            "status_code": self.status_code,
            "error": self.error,
            "ok": self.ok,
            "at": self.at.isoformat(),
        }


@dataclass
class PendingEvent:
    delivery_id: str
    event: str
    query_id: str | None
    body: bytes
    attempts: int  # made so far


class WebhookDeliveries:
    def __init__(self, log: Transactions) -> None:
        self.log = log

    # --- the outbox ---
    def enqueue(self, *, delivery_id: str, event: str, query_id: str | None, body: bytes) -> None:
        with self.log.write() as conn:
            conn.execute(
                webhook_outbox.insert().values(
                    delivery_id=delivery_id,
                    event=event,
                    query_id=query_id,
                    body=body.decode("utf-8"),
                    attempts=0,
                    created_at=utcnow(),
                )
            )

    def finish(self, delivery_id: str) -> None:
        """Delivered, or given up: out of the outbox."""
        with self.log.write() as conn:
            conn.execute(
                webhook_outbox.update().where(webhook_outbox.c.delivery_id == delivery_id).values(done_at=utcnow())
            )

    def pending(self) -> list[PendingEvent]:
        """Events neither delivered nor given up, oldest first."""
        t = webhook_outbox
        with self.log.read() as conn:
            rows = conn.execute(sa.select(t).where(t.c.done_at.is_(None)).order_by(t.c.created_at)).all()
        return [PendingEvent(r.delivery_id, r.event, r.query_id, r.body.encode("utf-8"), int(r.attempts)) for r in rows]

    # --- the delivery log ---

    def add(
        self,
        *,
        delivery_id: str,
        event: str,
        query_id: str | None,
        attempt: int,
        status_code: int | None,
        error: str | None,
        ok: bool,
    ) -> None:
        """One attempt (and the outbox's count of attempts)."""
        with self.log.write() as conn:
            conn.execute(
                webhook_outbox.update().where(webhook_outbox.c.delivery_id == delivery_id).values(attempts=attempt)
            )
            conn.execute(
                webhook_deliveries.insert().values(
                    delivery_id=delivery_id,
                    event=event,
                    query_id=query_id,
                    attempt=attempt,
                    status_code=status_code,
                    error=(error or None) and error[:2000],
                    ok=ok,
                    at=utcnow(),
                )
            )

    def recent(self, *, limit: int = 200, query_id: str | None = None) -> list[DeliveryAttempt]:
        """The newest attempts first."""
        t = webhook_deliveries
        stmt = sa.select(t).order_by(t.c.id.desc()).limit(limit)
        if query_id:
            stmt = stmt.where(t.c.query_id == query_id)
        with self.log.read() as conn:
            rows = conn.execute(stmt).all()
        return [
            DeliveryAttempt(
                id=int(r.id),
                delivery_id=r.delivery_id,
                event=r.event,
                query_id=r.query_id,
                attempt=int(r.attempt),
                status_code=r.status_code,
                error=r.error,
                ok=bool(r.ok),
                at=as_utc(r.at) or utcnow(),
            )
            for r in rows
        ]
