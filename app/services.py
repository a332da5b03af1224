"""The long-lived parts of a running Madoguchi, built once per process and shared by API, Slack, CLI and eval."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import ConfigError
from app.retrieval.embedders import Embedder, make_embedder
from app.retrieval.index import CorpusIndex
from app.retrieval.tokenizer import Tokenizer
from app.settings import Settings
from app.store.chroma import ChunkStore

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    store: ChunkStore
    index: CorpusIndex
    embedder: Embedder
    tokenizer: Tokenizer
    query_log: Any = None  # app.store.querylog.QueryLog when configured (records every question)
    generator: Any = None  # an LLM answer generator when MADOGUCHI_LLM is set; None = extractive
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    last_ingest: dict | None = None
    # Called as hook(record, answer_text) when staff resolve a question (the Slack bot relays it to the asker).
    resolution_hooks: list = field(default_factory=list)

    def ingest(self, *, paths: list[Path], prune: bool = False, progress: bool = False, source_names: dict[str, str] | None = None):
        """Ingest under the process-wide write lock, then swap in the new snapshot."""
        from ingest.pipeline import ingest

        with self.ingest_lock:
            report = ingest(
                paths=paths, store=self.store, embedder=self.embedder, tokenizer=self.tokenizer,
                category_patterns=self.settings.category_patterns, prune=prune, progress=progress, source_names=source_names,
            )
            self.last_ingest = report.to_dict()
        self.index.refresh()
        return report

    def check_embedder(self) -> None:
        """Refuse to serve vectors made by another embedder than the configured one."""
        stored = self.index.embedder_name
        if stored and stored != self.embedder.name:
            raise ConfigError(
                f"The index was built with embedder {stored!r} but MADOGUCHI_EMBEDDER is {self.embedder.name!r}; "
                "ingest the documents into a new MADOGUCHI_DATA_DIR (or MADOGUCHI_COLLECTION) or change the setting back.",
                f"索引は埋め込みモデル {stored!r} で作成されていますが、設定は {self.embedder.name!r} です。"
                "新しい MADOGUCHI_DATA_DIR（または MADOGUCHI_COLLECTION）に文書を取り込むか、設定を戻してください。",
            )


def build_services(
    settings: Settings,
    *,
    load_index: bool = True,
    with_log: bool = True,
    embedder: Embedder | None = None,
    tokenizer: Tokenizer | None = None,
) -> Services:
    """Build every long-lived part. `embedder` / `tokenizer` may be passed in to share them (tests, eval)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = embedder or make_embedder(settings.embedder, threads=settings.embedder_threads)
    store = ChunkStore(settings)
    services = Services(
        settings=settings, store=store, index=CorpusIndex(store), embedder=embedder, tokenizer=tokenizer or Tokenizer()
    )
    if with_log:
        services.query_log = _make_query_log(settings)
    services.generator = _make_generator(settings)
    if load_index:
        services.index.refresh()
    return services


def _make_query_log(settings: Settings):
    try:
        from app.store.querylog import QueryLog
    except ImportError:
        return None
    return QueryLog.from_settings(settings)


def _make_generator(settings: Settings):
    if settings.llm == "none":
        return None
    from app.generate import make_generator

    return make_generator(settings)
