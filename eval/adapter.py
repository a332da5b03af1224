"""Training pairs for the shipped query adapter from `make train`'s examples; the fitting itself is
app.retrieval.adapter_fit (shared with `madoguchi adapt`)."""

from __future__ import annotations

import numpy as np

from app.retrieval.adapter_fit import Pair, fit_adapter

__all__ = ["Pair", "fit_adapter", "pairs_of"]


def pairs_of(examples) -> list[Pair]:
    """Pairs from training examples (eval.train.Example): body and heading vectors of every candidate passage."""
    out = []
    for e in examples:
        if not (e.answerable and any(e.labels)) or e.query is None or e.query.vector is None:
            continue
        snap = e.snapshot
        body = [max(p.hits, key=lambda h: h.scores.get("dense", 0.0)).row for p in e.passages]
        head = [p.top.row for p in e.passages]
        labels = np.asarray(e.labels, dtype=bool)
        out.append(
            Pair(
                query=np.asarray(e.query.vector, dtype=np.float32),
                candidates=np.vstack([snap.vectors[body], snap.head_vectors[head]]).astype(np.float32),
                right=np.concatenate([labels, labels]),
            )
        )
    return out
