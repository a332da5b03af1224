"""Abuse limits: a token bucket per asker (the user id, else the client address), kept in this process — or, with
MADOGUCHI_RATE_LIMIT_SHARED, in the query log database shared by every replica (app/store/ratebuckets.py).

`admit` is what `/api/ask` and the Slack bot call before answering (`admit_feedback`: `/api/feedback`); a refused question raises `RateLimitedError` (429) with
the seconds until the asker may ask again. The buckets are plain values: a key, a clock reading, a number of tokens.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from app.errors import RateLimitedError


class Buckets(Protocol):
    """What the limits need: `TokenBuckets` (this process) or `app.store.ratebuckets.SharedBuckets` (every replica)."""

    per_minute: int

    def take(self, key: str) -> float | None: ...


@dataclass
class TokenBuckets:
    """`per_minute` tokens per key, refilled continuously; a full bucket allows a burst of `per_minute`.
    0 turns the limit off. At most `max_keys` buckets are kept (full ones are forgotten first)."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key → (tokens, clock reading)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> float | None:
        """Take one token for `key`: None when there was one, else the seconds until there is."""
        if self.per_minute <= 0:
            return None
        rate = self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed = True
            else:
                self._buckets[key] = (tokens, now)
                allowed = False
            if len(self._buckets) > self.max_keys:
                self._forget(now, rate)
        return None if allowed else (1.0 - tokens) / rate

    def _forget(self, now: float, rate: float) -> None:
        """Drop the buckets that have refilled (they hold no information), then the oldest."""
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * rate >= self.per_minute]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) > self.max_keys:
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k][1])[: len(self._buckets) - self.max_keys]
            for k in oldest:
                del self._buckets[k]


def asker_key(*, user_id: str | None, client: str | None) -> str:
    return f"user:{user_id}" if user_id else f"ip:{client or 'unknown'}"


def admit(buckets: Buckets, *, user_id: str | None, client: str | None) -> None:
    """Let one more question through for this asker, or raise `RateLimitedError` saying when to ask again."""
    wait = buckets.take(asker_key(user_id=user_id, client=client))
    if wait is None:
        return
    seconds = max(1, math.ceil(wait))
    raise RateLimitedError(
        f"You have asked many questions in a short time ({buckets.per_minute} per minute at most). "
        f"Please wait {seconds} seconds and ask again.",
        f"短い時間にたくさんの質問が届きました（1 分間に {buckets.per_minute} 件まで）。"
        f"{seconds} 秒ほど待ってから、もう一度お試しください。",
        retry_after=seconds,
    )


def admit_feedback(buckets: Buckets, *, client: str | None) -> None:
    """Let one more 👍/👎 through for this client, or raise `RateLimitedError`."""
    wait = buckets.take(asker_key(user_id=None, client=client))
    if wait is None:
        return
    seconds = max(1, math.ceil(wait))
    raise RateLimitedError(
        f"Many feedback clicks arrived in a short time ({buckets.per_minute} per minute at most). "
        f"Please wait {seconds} seconds and try again.",
        f"短い時間にたくさんの評価が届きました（1 分間に {buckets.per_minute} 件まで）。"
        f"{seconds} 秒ほど待ってから、もう一度お試しください。",
        retry_after=seconds,
    )
