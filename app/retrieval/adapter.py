"""A linear query adapter: the question's embedding is multiplied by a d×d matrix before dense search.

The embedding model stays frozen; the matrix (initialised at identity and kept near it) is trained by `make train`
(eval/adapter.py) on our own question → article pairs, so that "how employees ask" lands nearer to "how
regulations say it". It belongs to one embedding model: with another model configured it is not applied.
Serving cost: one matrix-vector product per question.
"""

from __future__ import annotations

import logging
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
        with path.open("wb") as fh:
            np.savez_compressed(fh, matrix=self.matrix.astype(np.float32), embedder=np.asarray(self.embedder))


@lru_cache(maxsize=8)
def load_adapter(path: str) -> QueryAdapter | None:
    """The adapter stored at `path` (None when there is no file: dense search uses the raw question vector)."""
    p = Path(path)
    if not path or not p.is_file():
        return None
    with np.load(p, allow_pickle=False) as data:
        return QueryAdapter(matrix=np.asarray(data["matrix"], dtype=np.float32), embedder=str(data["embedder"]))
