"""The outgoing webhook: `question.escalated` and `question.resolved` POSTed as signed JSON to MADOGUCHI_WEBHOOK_URL.

Signed like Slack's requests: `X-Madoguchi-Timestamp: <unix seconds>` and
`X-Madoguchi-Signature: v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>`; a receiver checks it with
`verify_signature()` (README: Webhook). Delivery happens off the request path, on one background thread: each
event is tried up to MADOGUCHI_WEBHOOK_MAX_ATTEMPTS times (a 2xx answer is success), waiting
MADOGUCHI_WEBHOOK_BACKOFF_S before the second attempt and twice as long before each further one, each request
bounded by MADOGUCHI_WEBHOOK_TIMEOUT_S. Every attempt is written to the delivery log (`webhook_deliveries`), which
the console's 「Webhook 配信履歴」 page lists.

Nothing is lost to a restart: an event is written to the outbox (`webhook_outbox`) when it is emitted and leaves it
when it is delivered or given up; a server resumes the outbox's events when it starts (`resume()`). Delivery is
therefore at least once: a receiver drops repeats by `X-Madoguchi-Delivery` (the body's `delivery_id`).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.clock import utcnow
from app.errors import ConfigError
from app.settings import Settings
from app.store.querylog_webhooks import DeliveryAttempt, WebhookDeliveries

if TYPE_CHECKING:  # type-only: Services holds a WebhookSender
    from app.services import Services

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Madoguchi-Timestamp"
SIGNATURE_HEADER = "X-Madoguchi-Signature"
EVENT_HEADER = "X-Madoguchi-Event"
DELIVERY_HEADER = "X-Madoguchi-Delivery"
EVENTS = ("question.escalated", "question.resolved")
MAX_AGE_S = 300


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """`v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>` over the raw body bytes."""
    base = b"v1:" + str(timestamp).encode("ascii") + b":" + _bytes(body)
    return "v1=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    signature: str | None,
    *,
    max_age_s: float | None = MAX_AGE_S,
    now: float | None = None,
) -> bool:
    """True when `signature` (the `X-Madoguchi-Signature` header) signs `body` (the raw request body) at
    `timestamp` (the `X-Madoguchi-Timestamp` header) with `secret`, and the timestamp is at most `max_age_s`
    seconds from now (None: any age). Constant-time comparison."""
    try:
        ts = int(str(timestamp))
    except ValueError:
        return False
    if max_age_s is not None and abs((time.time() if now is None else now) - ts) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body).encode("ascii"), (signature or "").encode("utf-8", "replace"))


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    delivery_id: str = field(compare=False)
    event: str = field(compare=False)
    query_id: str | None = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


class WebhookSender:
    """Signs and delivers events on a background thread with bounded, exponentially spaced retries."""

    def __init__(
        self,
        *,
        url: str,
        secret: str | None,
        deliveries: WebhookDeliveries | None,
        max_attempts: int = 5,
        backoff_s: float = 2.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.secret = secret or ""
        self.deliveries = deliveries
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Settings, deliveries: WebhookDeliveries | None) -> WebhookSender | None:
        if not settings.webhook_url:
            return None
        if not settings.webhook_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"MADOGUCHI_WEBHOOK_URL must be an http:// or https:// URL, not {settings.webhook_url!r}.",
                f"MADOGUCHI_WEBHOOK_URL は http:// か https:// の URL にしてください（{settings.webhook_url!r}）。",
            )
        if not settings.webhook_secret:
            logger.warning("MADOGUCHI_WEBHOOK_URL is set without MADOGUCHI_WEBHOOK_SECRET: deliveries are unsigned")
        return cls(
            url=settings.webhook_url,
            secret=settings.webhook_secret,
            deliveries=deliveries,
            max_attempts=settings.webhook_max_attempts,
            backoff_s=settings.webhook_backoff_s,
            timeout_s=settings.webhook_timeout_s,
        )

    # --- the request path: queue only ---
    def emit(self, event: str, data: dict) -> str:
        """Write one event to the outbox and queue it; returns its delivery id. Never waits for the network."""
        delivery_id = uuid.uuid4().hex
        body = {"event": event, "delivery_id": delivery_id, "occurred_at": utcnow().isoformat(), **data}
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
        query_id = data.get("query_id")
        if self.deliveries is not None:
            try:
                self.deliveries.enqueue(delivery_id=delivery_id, event=event, query_id=query_id, body=raw)
            except Exception:  # noqa: BLE001 - still sent from memory; only a restart could lose it now
                logger.exception("could not write webhook %s for %s to the outbox", event, query_id)
        self._push(_Job(time.monotonic(), next(self._seq), delivery_id, event, query_id, raw))
        return delivery_id

    def resume(self) -> int:
        """Queue the outbox's undelivered events (called when a server starts); returns how many."""
        if self.deliveries is None:
            return 0
        with self._cond:
            self._closed = False
            queued = {j.delivery_id for j in self._heap}
        pending = [p for p in self.deliveries.pending() if p.delivery_id not in queued]
        for p in pending:
            self._push(
                _Job(time.monotonic(), next(self._seq), p.delivery_id, p.event, p.query_id, p.body, p.attempts + 1)
            )
        if pending:
            logger.info("resumed %d undelivered webhook event(s)", len(pending))
        return len(pending)

    def _push(self, job: _Job) -> None:
        with self._cond:
            if self._closed:
                logger.warning("webhook %s for %s stays in the outbox: the sender is stopped", job.event, job.query_id)
                return
            heapq.heappush(self._heap, job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="madoguchi-webhook", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued or being sent (True), or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop: the attempt under way may finish (up to `timeout`); queued events stay in the outbox for the next
        start (without a query log they are dropped, logged)."""
        with self._cond:
            self._closed = True
            left = len(self._heap)
            self._heap.clear()
            self._cond.notify_all()
        if left:
            if self.deliveries is not None:
                logger.info("%d webhook event(s) left in the outbox; resumed at the next start", left)
            else:
                logger.error("%d webhook event(s) dropped at shutdown (no query log to keep them)", left)
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the delivery thread ---
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                job = heapq.heappop(self._heap)
                self._busy += 1
            try:
                self._attempt(job)
            except Exception:  # noqa: BLE001 - the thread must survive anything one delivery does
                logger.exception("webhook delivery %s failed unexpectedly", job.delivery_id)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        status, error = self._send(job)
        ok = status is not None and 200 <= status < 300
        self._record(job, status, error, ok)
        if ok:
            self._finish(job)
            return
        if job.attempt >= self.max_attempts:
            self._finish(job)
            logger.error(
                "webhook %s for %s given up after %d attempts (%s)",
                job.event,
                job.query_id,
                job.attempt,
                error or status,
            )
            return
        delay = self.backoff_s * 2 ** (job.attempt - 1)
        retry = _Job(
            time.monotonic() + delay,
            next(self._seq),
            job.delivery_id,
            job.event,
            job.query_id,
            job.body,
            job.attempt + 1,
        )
        with self._cond:
            if not self._closed:
                heapq.heappush(self._heap, retry)
                self._cond.notify_all()

    def _send(self, job: _Job) -> tuple[int | None, str | None]:
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Madoguchi-Webhook/1",
            TIMESTAMP_HEADER: ts,
            EVENT_HEADER: job.event,
            DELIVERY_HEADER: job.delivery_id,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, ts, job.body)
        request = urllib.request.Request(self.url, data=job.body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:  # noqa: S310 - the staff's own URL
                resp.read(65536)
                return resp.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, f"HTTP {exc.code}"
        except Exception as exc:  # noqa: BLE001 - refused, timed out, DNS…: recorded and retried
            return None, f"{type(exc).__name__}: {exc}"

    def _finish(self, job: _Job) -> None:
        if self.deliveries is None:
            return
        try:
            self.deliveries.finish(job.delivery_id)
        except Exception:  # noqa: BLE001 - at worst it is sent once more after a restart
            logger.exception("could not mark webhook delivery %s done", job.delivery_id)

    def _record(self, job: _Job, status: int | None, error: str | None, ok: bool) -> None:
        if self.deliveries is None:
            return
        try:
            self.deliveries.add(
                delivery_id=job.delivery_id,
                event=job.event,
                query_id=job.query_id,
                attempt=job.attempt,
                status_code=status,
                error=error,
                ok=ok,
            )
        except Exception:  # noqa: BLE001 - a full disk must not stop deliveries
            logger.exception("could not record webhook attempt %s/%d", job.delivery_id, job.attempt)


def recent_deliveries(services: Services, *, limit: int = 200) -> list[DeliveryAttempt]:
    """The delivery log's newest attempts (the console's 「Webhook 配信履歴」)."""
    return services.require_log().webhook_deliveries.recent(limit=limit)
