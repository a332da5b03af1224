"""Token buckets kept in the query log database, so every replica spends from the same bucket
(MADOGUCHI_RATE_LIMIT_SHARED). Same arithmetic as `app.ops.ratelimit.TokenBuckets`; one short write transaction per
question (the row is locked on PostgreSQL; SQLite writers take the write lock at BEGIN)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.store.querylog_schema import rate_buckets

if TYPE_CHECKING:
    from app.store.querylog import QueryLog

FORGET_AFTER_S = 3600.0  # a bucket untouched this long is full again: its row carries no information


class SharedBuckets:
    def __init__(self, log: QueryLog, *, per_minute: int, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self.log = log
        self.per_minute = per_minute
        self.prefix = prefix
        self.clock = clock
        self._calls = 0

    def _key(self, key: str) -> str:
        full = f"{self.prefix}:{key}"
        return full if len(full) <= 255 else f"{self.prefix}:sha256:" + hashlib.sha256(key.encode()).hexdigest()

    def take(self, key: str) -> float | None:
        """Take one token for `key`: None when there was one, else the seconds until there is."""
        if self.per_minute <= 0:
            return None
        try:
            return self._take(self._key(key))
        except IntegrityError:  # two replicas created the same new bucket at once: the row exists now
            return self._take(self._key(key))

    def _take(self, key: str) -> float | None:
        rate = self.per_minute / 60.0
        t = rate_buckets.c
        with self.log.write() as conn:
            stmt = sa.select(t.tokens, t.at).where(t.key == key)
            if conn.dialect.name != "sqlite":
                stmt = stmt.with_for_update()
            row = conn.execute(stmt).first()
            now = self.clock()
            tokens = (
                float(self.per_minute) if row is None else min(float(self.per_minute), row[0] + (now - row[1]) * rate)
            )
            allowed = tokens >= 1.0
            left = tokens - 1.0 if allowed else tokens
            if row is None:
                conn.execute(rate_buckets.insert().values(key=key, tokens=left, at=now))
            else:
                conn.execute(rate_buckets.update().where(t.key == key).values(tokens=left, at=now))
            self._calls += 1
            if self._calls % 500 == 0:
                conn.execute(rate_buckets.delete().where(t.at < now - FORGET_AFTER_S))
        return None if allowed else (1.0 - tokens) / rate
