"""A linear query adapter: the question's embedding is multiplied by a d×d matrix before dense search.

The embedding model stays frozen; the matrix (initialised at identity and kept near it) is trained by `make train`
(eval/adapter.py) on our own question → article pairs, so that "how employees ask" lands nearer to "how
regulations say it". It belongs to one embedding model: with another model configured it is not applied.
Serving cost: one matrix-vector product per question.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryAdapter:
    matrix: np.ndarray  # (d, d) float32
    embedder: str  # the embedder name it was trained for

    def apply(self, vector: np.ndarray) -> np.ndarray:
        out = self.matrix @ vector.astype(np.float32)
        norm = float(np.linalg.norm(out))
        return (out / norm).astype(np.float32) if norm > 0 else vector

    def fits(self, embedder_name: str, dim: int) -> bool:
        return self.embedder == embedder_name and self.matrix.shape == (dim, dim)

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_bytes())

    def to_bytes(self) -> bytes:
        """The .npz bytes (matrix + embedder name); what `madoguchi adapt` keeps in the database per version."""
        buf = io.BytesIO()
        np.savez_compressed(buf, matrix=self.matrix.astype(np.float32), embedder=np.asarray(self.embedder))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> QueryAdapter:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls(matrix=np.asarray(npz["matrix"], dtype=np.float32), embedder=str(npz["embedder"]))


@lru_cache(maxsize=8)
def load_adapter(path: str) -> QueryAdapter | None:
    """The adapter stored at `path` (None when there is no file: dense search uses the raw question vector)."""
    p = Path(path)
    if not path or not p.is_file():
        return None
    return QueryAdapter.from_bytes(p.read_bytes())


class ActiveAdapter:
    """The deployment's own adapter (trained by `madoguchi adapt`, kept in the shared database), as served now.

    `version_of()` names the active version (cheap: polled at most every `ttl` seconds, so every replica follows a
    new version or a rollback within that time); `load(version)` fetches its matrix once. A failing database keeps
    the last known adapter (logged): answering never waits for the adapter."""

    def __init__(
        self,
        *,
        version_of: Callable[[], int | None] | None = None,
        load: Callable[[int], QueryAdapter | None] | None = None,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._version_of = version_of
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._checked = -float("inf")
        self._lock = threading.Lock()
        self.version: int | None = None
        self.adapter: QueryAdapter | None = None

    def current(self) -> QueryAdapter | None:
        if self._version_of is None or self._load is None:
            return None
        now = self._clock()
        if now - self._checked >= self._ttl:
            with self._lock:
                if now - self._checked >= self._ttl:
                    self._checked = now
                    self._refresh()
        return self.adapter

    def refresh_now(self) -> None:
        """Check the database at once (after this process swapped or rolled back a version)."""
        with self._lock:
            self._checked = self._clock()
            self._refresh()

    def _refresh(self) -> None:
        assert self._version_of is not None and self._load is not None
        try:
            version = self._version_of()
            if version != self.version:
                self.adapter = self._load(version) if version is not None else None
                self.version = version
                logger.info("query adapter: serving deployment version %s", version)
        except Exception:  # noqa: BLE001 - a database hiccup must not stop answers; keep the last adapter
            logger.exception("could not check the active query adapter; keeping version %s", self.version)
