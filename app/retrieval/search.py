"""First stage: candidates from every field, fused with weighted reciprocal-rank fusion.

Four rankings over the snapshot's chunks — BM25 on the body (`lex`), BM25 on the heading field (`head_lex`: title,
section path, FAQ question), cosine to the chunk's embedding (`dense`) and to the heading's embedding
(`head_dense`). A chunk is a candidate when it is near the top of any of them; every candidate carries all four
scores and ranks, which the second stage (app.retrieval.ranking) turns into features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.retrieval.index import Chunk, Snapshot

FIELDS = ("lex", "head_lex", "dense", "head_dense")


@dataclass
class Hit:
    chunk: Chunk
    score: float  # fused (RRF) score
    row: int = -1
    scores: dict[str, float] = field(default_factory=dict)  # field → raw score
    ranks: dict[str, int] = field(default_factory=dict)  # field → 0-based rank, only where within the depth


def _top(scores: np.ndarray, k: int, mask: np.ndarray | None) -> np.ndarray:
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return idx[np.isfinite(scores[idx])]


def search(
    snapshot: Snapshot,
    *,
    field_scores: dict[str, np.ndarray],
    weights: dict[str, float],
    mask: np.ndarray | None = None,
    depth: int = 30,
    rrf_k: float = 60.0,
) -> list[Hit]:
    """Candidates: the top `depth` of each field (lexical fields only where the score is positive), fused by RRF;
    sorted by the fused score."""
    if len(snapshot) == 0 or not field_scores:
        return []
    fused: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, scores in field_scores.items():
        w = weights.get(name, 1.0)
        for r, i in enumerate(_top(scores, depth, mask)):
            i = int(i)
            if name.endswith("lex") and scores[i] <= 0:
                break
            ranks.setdefault(i, {})[name] = r
            fused[i] = fused.get(i, 0.0) + w / (rrf_k + r + 1)
    hits = [
        Hit(
            chunk=snapshot.chunks[i],
            score=s,
            row=i,
            scores={name: float(arr[i]) for name, arr in field_scores.items()},
            ranks=ranks.get(i, {}),
        )
        for i, s in fused.items()
    ]
    hits.sort(key=lambda h: (-h.score, h.row))
    return hits
