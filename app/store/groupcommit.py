"""Group commit: many threads' rows reach the database in one transaction, each caller returning only after its
own row is committed (durability kept: nothing is acknowledged before it is on disk).

Under concurrent questions the query-log write was the serving path's bottleneck: one transaction — one fsync with
SQLite's `synchronous=FULL`, one round trip and commit with PostgreSQL — per question, serialised on the write lock.
Here the first caller to find no flush running becomes the leader: it takes every row queued so far (its own among
them), writes them in one transaction, marks them done and wakes the others; one of those still waiting leads the
next batch. A lone caller pays exactly what it paid before; sixteen at once share one commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Item:
    row: Any
    finished: bool = False
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, write_batch: Callable[[list[Any]], list[BaseException | None]]) -> None:
        """`write_batch(rows)` commits the rows and returns one error (or None) per row, in order."""
        self._write_batch = write_batch
        self._cond = threading.Condition()
        self._pending: list[_Item] = []
        self._leading = False
        self.batches = 0  # transactions written (for tests and the benchmark)
        self.rows = 0

    def write(self, row: Any) -> None:
        """Commit `row` (with whatever else is queued); raises this row's error, if any."""
        item = _Item(row)
        with self._cond:
            self._pending.append(item)
            while not item.finished:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch, self._pending = self._pending, []
                self._cond.release()
                try:
                    try:
                        errors = self._write_batch([i.row for i in batch])
                    except BaseException as exc:  # noqa: BLE001 - every waiter gets the error, none is left hanging
                        errors = [exc] * len(batch)
                finally:
                    self._cond.acquire()
                for i, err in zip(batch, errors):
                    i.error = err
                    i.finished = True
                self.batches += 1
                self.rows += len(batch)
                self._leading = False
                self._cond.notify_all()
        if item.error is not None:
            raise item.error
