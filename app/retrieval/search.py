"""Hybrid search: BM25 and dense rankings fused with weighted reciprocal-rank fusion.

FAQ entries are embedded on their question text, so a question that matches an FAQ question scores high on the
dense side; they also get a small boost when their question matches strongly, because a curated answer beats
a regulation excerpt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.retrieval.index import Chunk, Snapshot

RRF_K = 60.0


@dataclass
class Hit:
    chunk: Chunk
    score: float
    lexical: float = 0.0
    dense: float = 0.0
    lexical_rank: int | None = None
    dense_rank: int | None = None


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
    query_tokens: list[str],
    query_vector: np.ndarray | None,
    category: str | None = None,
    k: int = 10,
    mode: str = "hybrid",
    depth: int = 50,
    dense_hits: list[tuple[str, float]] | None = None,
    lexical_weight: float = 1.0,
    dense_weight: float = 1.0,
    term_weights: dict[str, float] | None = None,
) -> list[Hit]:
    """Top `k` chunks for a query. `mode` is hybrid | lexical | dense (the latter two for ablations).

    `dense_hits` lets the caller supply (chunk id, cosine) pairs from Chroma's own ANN query instead of the
    exact in-memory search.
    """
    if len(snapshot) == 0:
        return []
    mask = snapshot.category_mask(category)
    lex_scores = snapshot.bm25.scores(query_tokens, term_weights) if mode in ("hybrid", "lexical") else None
    if mode in ("hybrid", "dense") and query_vector is not None:
        if dense_hits is not None:
            dense_scores = np.full(len(snapshot), -1.0, dtype=np.float32)
            for cid, sim in dense_hits:
                row = snapshot.row_of.get(cid)
                if row is not None:
                    dense_scores[row] = sim
        else:
            dense_scores = snapshot.vectors @ query_vector.astype(np.float32)
    else:
        dense_scores = None

    fused: dict[int, float] = {}
    lex_rank: dict[int, int] = {}
    dense_rank: dict[int, int] = {}
    if lex_scores is not None:
        for r, i in enumerate(_top(lex_scores, depth, mask)):
            if lex_scores[i] <= 0:
                break
            lex_rank[int(i)] = r
            fused[int(i)] = fused.get(int(i), 0.0) + lexical_weight / (RRF_K + r + 1)
    if dense_scores is not None:
        for r, i in enumerate(_top(dense_scores, depth, mask)):
            dense_rank[int(i)] = r
            fused[int(i)] = fused.get(int(i), 0.0) + dense_weight / (RRF_K + r + 1)
    hits = [
        Hit(
            chunk=snapshot.chunks[i],
            score=s,
            lexical=float(lex_scores[i]) if lex_scores is not None else 0.0,
            dense=float(dense_scores[i]) if dense_scores is not None else 0.0,
            lexical_rank=lex_rank.get(i),
            dense_rank=dense_rank.get(i),
        )
        for i, s in fused.items()
    ]
    hits.sort(key=lambda h: -h.score)
    return hits[:k]
