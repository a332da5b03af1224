"""Fitting a query adapter (app.retrieval.adapter) from question → passage training signals.

Used by `make train` (eval/train.py: the shipped general adapter) and by `madoguchi adapt` (app/ops/adapt.py: a
deployment's own adapter from its staff answers, feedback and FAQ). For every question: its frozen embedding q, the
vectors of its first-stage candidates (body and heading fields) and which of them are right. The d×d matrix W starts
at `base` (identity, or the adapter a deployment already uses) and minimises a softmax contrastive loss (the right
passages against the other candidates of the same question, at temperature TEMPERATURE) plus PENALTY·‖W − base‖²,
so it moves only as far as the data asks. Torch on the CPU, one thread and fixed seeds: the same pairs give the same
matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.retrieval.adapter import QueryAdapter

PENALTY = 0.1
TEMPERATURE = 0.05
EPOCHS = 10
LEARNING_RATE = 0.01
BATCH = 64


@dataclass
class Pair:
    """One question's training signal: its vector, its candidates' vectors and which candidates are right."""

    query: np.ndarray  # (d,)
    candidates: np.ndarray  # (n, d)
    right: np.ndarray  # (n,) bool


def fit_adapter(
    pairs: list[Pair],
    *,
    embedder: str,
    penalty: float = PENALTY,
    epochs: int = EPOCHS,
    base: np.ndarray | None = None,
) -> QueryAdapter:
    import torch  # deferred: only training needs torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    d = pairs[0].query.shape[0]
    anchor = torch.eye(d) if base is None else torch.from_numpy(np.asarray(base, dtype=np.float32).copy())
    w = anchor.clone().requires_grad_(True)
    data = [(torch.from_numpy(p.query), torch.from_numpy(p.candidates), torch.from_numpy(p.right)) for p in pairs]
    opt = torch.optim.Adam([w], lr=LEARNING_RATE)
    for epoch in range(epochs):
        order = np.random.RandomState(epoch).permutation(len(data))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            loss = torch.zeros(())
            for i in batch:
                q, cands, right = data[i]
                adapted = w @ q
                scores = (cands @ (adapted / adapted.norm())) / TEMPERATURE
                loss = loss + torch.logsumexp(scores, 0) - torch.logsumexp(scores[right], 0)
            loss = loss / len(batch) + penalty * ((w - anchor) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    matrix = np.round(w.detach().numpy().astype(np.float64), 5).astype(np.float32)
    return QueryAdapter(matrix=matrix, embedder=embedder)
