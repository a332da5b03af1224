"""BM25 over Sudachi tokens, as a sparse matrix of precomputed term weights (Okapi BM25, k1=1.2, b=0.75)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from scipy import sparse


class BM25:
    def __init__(self, docs_tokens: list[list[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(docs_tokens), dtype=np.float32)
        for i, tokens in enumerate(docs_tokens):
            lengths[i] = len(tokens)
            for term, tf in Counter(tokens).items():
                j = self.vocab.setdefault(term, len(self.vocab))
                rows.append(i)
                cols.append(j)
                tfs.append(tf)
        n_docs = len(docs_tokens)
        self.n_docs = n_docs
        rows_a = np.asarray(rows, dtype=np.int32)
        cols_a = np.asarray(cols, dtype=np.int32)
        tf_a = np.asarray(tfs, dtype=np.float32)
        df = np.bincount(cols_a, minlength=len(self.vocab)).astype(np.float32)
        self.idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        avgdl = float(lengths.mean()) if n_docs else 1.0
        norm = k1 * (1 - b + b * lengths[rows_a] / max(avgdl, 1e-9)) if n_docs else np.zeros(0)
        weights = self.idf[cols_a] * tf_a * (k1 + 1) / (tf_a + norm)
        self.matrix = sparse.csc_matrix(
            (weights, (rows_a, cols_a)), shape=(n_docs, max(1, len(self.vocab))), dtype=np.float32
        )

    def scores(self, tokens: list[str], weights: dict[str, float] | None = None) -> np.ndarray:
        """BM25 of every document for the query terms; `weights` scales individual terms (default 1)."""
        terms = [t for t in dict.fromkeys(tokens) if t in self.vocab]
        if not terms or self.n_docs == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        ids = [self.vocab[t] for t in terms]
        w = np.asarray([(weights or {}).get(t, 1.0) for t in terms], dtype=np.float32)
        return np.asarray(self.matrix[:, ids] @ w).ravel()

    def idf_of(self, token: str) -> float:
        j = self.vocab.get(token)
        if j is None:
            return math.log1p((self.n_docs + 0.5) / 0.5)
        return float(self.idf[j])
