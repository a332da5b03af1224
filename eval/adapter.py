"""Training the query adapter (app.retrieval.adapter) from question → passage pairs.

For every wording whose right passage is among the first stage's candidates: the question's (frozen) embedding
q, the candidates' body and heading vectors, and which of them are right. The d×d matrix W starts at identity and
minimises a softmax contrastive loss (the right passages against the other candidates of the same question, at
temperature TEMPERATURE) plus PENALTY·‖W − I‖², so it moves only as far as the data asks. Torch on the CPU, one
thread and fixed seeds: the same pairs give the same matrix.
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


def fit_adapter(pairs: list[Pair], *, embedder: str, penalty: float = PENALTY, epochs: int = EPOCHS) -> QueryAdapter:
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    d = pairs[0].query.shape[0]
    eye = torch.eye(d)
    w = torch.eye(d, requires_grad=True)
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
            loss = loss / len(batch) + penalty * ((w - eye) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    matrix = np.round(w.detach().numpy().astype(np.float64), 5).astype(np.float32)
    return QueryAdapter(matrix=matrix, embedder=embedder)
