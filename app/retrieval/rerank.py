"""The reranker slot: an optional cross-encoder that re-scores the learned ranker's first passages.

`MADOGUCHI_RERANKER=none` (default) skips this stage entirely: the order is the learned ranker's, byte for byte.
`cross-encoder:<name or path>` loads a sentence-transformers `CrossEncoder` once (heavy imports inside the factory;
a Hugging Face id resolves to its copy under `MADOGUCHI_MODELS_DIR`, nothing is downloaded at run time) and scores
(question, passage) pairs in batches for the first `rerank_top_n` passages.

How the score enters the ranking (the shipped ranker and confidence were trained without a reranker, so the
reranker cannot simply replace them): over those passages both scores are standardized (z-scores within the
question's candidate list) and blended,

    final = rerank_weight × z(reranker score) + (1 − rerank_weight) × z(learned ranker logit),

ties kept in the learned order; the passages past `rerank_top_n` follow in their learned order. A passage's
`rank_score` stays the learned logit (the confidence model's features are defined on it) and it gains the
features `rerank` (raw score) and `rerank_z`. The confidence is then recalibrated for the deployment by
`madoguchi calibrate` (app/ops/calibration.py), which also makes the first passage's `rerank_z` a feature of it. The knobs (`rerank_top_n`, `rerank_weight`, `rerank_timeout_ms`)
live in `RankParams`.

Latency is bounded: scoring runs on the reranker's own worker thread and the question waits at most
`rerank_timeout_ms`; past it the learned order is kept and the outcome (`timeout`) goes to the query log's meta.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from app.errors import ConfigError
from app.profiles import local_model_path
from app.retrieval.ranking import Passage, RankParams

logger = logging.getLogger(__name__)

RerankStatus = Literal["ok", "timeout", "error"]
PASSAGE_CHARS = 1500  # a passage is cut here before scoring (cross-encoders truncate at ~512 tokens anyway)


class Reranker(Protocol):
    name: str

    def score(self, query: str, passages: list[str]) -> np.ndarray: ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder, loaded once; scores are raw logits (no sigmoid), batched."""

    def __init__(
        self, model: str, *, threads: int, models_dir: Path | None = None, device: str = "cpu", batch_size: int = 16
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import CrossEncoder

        torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
        path = local_model_path(model, models_dir)
        try:
            self._model = CrossEncoder(path, device=device)
        except Exception as exc:  # noqa: BLE001 - turned into a config error that names the model
            raise ConfigError(
                f"Could not load cross-encoder {model!r} from {path!r} (nothing is downloaded at run time; "
                f"see `madoguchi models fetch`): {exc}",
                f"クロスエンコーダ {model!r} を読み込めません（実行時のダウンロードは行いません。"
                f"`madoguchi models fetch` を参照）: {exc}",
            ) from exc
        self._identity = torch.nn.Identity()
        self.name = f"cross-encoder:{model}"
        self.batch_size = batch_size
        self.path = path

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float64)
        pairs = [(query, p[:PASSAGE_CHARS]) for p in passages]
        scores = self._model.predict(
            pairs,
            batch_size=self.batch_size,
            activation_fn=self._identity,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(scores, dtype=np.float64).reshape(len(passages), -1)[:, -1]


RERANKERS: dict[str, Callable[[str, int, Path | None, str], Reranker]] = {
    "cross-encoder": lambda arg, threads, models_dir, device: CrossEncoderReranker(
        arg, threads=threads, models_dir=models_dir, device=device
    ),
}


def make_reranker(
    name: str, *, threads: int = 2, models_dir: Path | None = None, device: str = "cpu"
) -> Reranker | None:
    """The reranker named by `MADOGUCHI_RERANKER` (None for `none`); an unknown name fails listing the valid ones."""
    if not name or name == "none":
        return None
    kind, _, arg = name.partition(":")
    factory = RERANKERS.get(kind)
    if factory is None or not arg:
        raise ConfigError(
            f"Unknown reranker {name!r}. Valid: none, cross-encoder:<name or path>.",
            f"不明なリランカー {name!r} です。none または cross-encoder:<名前またはパス> を指定してください。",
        )
    logger.info("loading reranker %s", name)
    return factory(arg, threads, models_dir, device)


@dataclass
class RerankOutcome:
    model: str
    status: RerankStatus
    ms: float
    scored: int = 0

    def to_meta(self) -> dict:
        return {"model": self.model, "status": self.status, "ms": round(self.ms, 1), "scored": self.scored}


class RerankStage:
    """A reranker with its own worker thread, so a slow model costs a question at most the timeout."""

    def __init__(self, reranker: Reranker) -> None:
        self.reranker = reranker
        self.name = reranker.name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rerank")
        self.outcomes: Counter[str] = Counter()  # ok / timeout / error since start (eval reports whether it ran)

    def scores(self, query: str, texts: list[str], *, timeout_ms: int) -> tuple[np.ndarray | None, RerankStatus]:
        future = self._pool.submit(self.reranker.score, query, texts)
        try:
            return future.result(timeout=timeout_ms / 1000.0), "ok"
        except FutureTimeout:
            future.cancel()  # not started yet: dropped; already running: it finishes on its thread, unused
            return None, "timeout"
        except Exception:  # noqa: BLE001 - a failing model must not fail the question: logged, learned order kept
            logger.exception("reranker %s failed; keeping the learned order", self.name)
            return None, "error"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def passage_text(p: Passage) -> str:
    c = p.top.chunk
    head = c.question if c.kind == "faq" and c.question else c.section or c.title
    return f"{head}\n{p.text}" if head else p.text


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def blend(passages: list[Passage], scores: np.ndarray, *, params: RankParams) -> list[Passage]:
    """The documented rule: standardized reranker and learned scores blended by `rerank_weight`."""
    n = len(scores)
    head, tail = passages[:n], passages[n:]
    learned = np.asarray([p.rank_score for p in head], dtype=np.float64)
    zr, zl = _z(scores), _z(learned)
    final = params.rerank_weight * zr + (1.0 - params.rerank_weight) * zl
    for p, s, z in zip(head, scores, zr):
        p.features["rerank"] = float(s)
        p.features["rerank_z"] = float(z)
    order = sorted(range(n), key=lambda i: (-final[i], i))
    return [head[i] for i in order] + tail


def rerank(
    question: str, passages: list[Passage], *, stage: RerankStage, params: RankParams
) -> tuple[list[Passage], RerankOutcome]:
    """Rerank the first `params.rerank_top_n` passages, or keep the order (timeout / error) and say why."""
    started = time.perf_counter()
    head = passages[: params.rerank_top_n]
    if not head:
        return passages, RerankOutcome(model=stage.name, status="ok", ms=0.0)
    scores, status = stage.scores(question, [passage_text(p) for p in head], timeout_ms=params.rerank_timeout_ms)
    ms = (time.perf_counter() - started) * 1000
    stage.outcomes[status] += 1
    if scores is None or len(scores) != len(head):
        if status == "timeout":
            logger.warning("reranker %s timed out after %.0f ms; learned order kept", stage.name, ms)
        return passages, RerankOutcome(model=stage.name, status="error" if status == "ok" else status, ms=ms)
    return blend(passages, scores, params=params), RerankOutcome(model=stage.name, status="ok", ms=ms, scored=len(head))


def rerank_z_of(r) -> float | None:
    """The first passage's reranker z-score when the reranker ran for this question (the calibration's feature)."""
    if r.rerank is None or r.rerank.status != "ok" or not r.passages:
        return None
    return r.passages[0].features.get("rerank_z")
