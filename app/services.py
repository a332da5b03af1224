"""The long-lived parts of a running Madoguchi, built once per process and shared by API, Slack, CLI and eval.

`Services` is a typed container: each field names the component and the protocol it is used through
(app/ports.py). The service layer (app/ops/) and `app.answer.answer()` take it; nothing below them sees HTTP.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from app.clock import utcnow
from app.errors import ConfigError, NotFoundError, StoreUnavailableError
from app.generate import make_generator
from app.ops.calibration import Calibration, load_calibration
from app.ops.ratelimit import Buckets, TokenBuckets
from app.ops.reembed import ReembedJob, raise_if_reembedding
from app.ops.webhooks import WebhookSender
from app.ports import ChunkStorePort, EmbedderPort, EscalationHook, GeneratorPort, QueryLogPort, ResolutionHook
from app.retrieval.adapter import ActiveAdapter
from app.retrieval.embedders import make_embedder
from app.retrieval.glossary import Glossary
from app.retrieval.index import CorpusIndex
from app.retrieval.rerank import RerankStage, make_reranker
from app.retrieval.tokenizer import Tokenizer
from app.settings import Settings
from app.store.chroma import ChunkStore
from app.store.private import private_dir
from app.store.querylog import QueryLog
from app.store.ratebuckets import SharedBuckets
from ingest.pipeline import IngestReport, ingest, repair_store

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    store: ChunkStorePort  # chunks, vectors, manifest, corpus version (Chroma)
    index: CorpusIndex  # the in-memory snapshot answers are served from
    embedder: EmbedderPort
    tokenizer: Tokenizer  # Sudachi (Japanese) and a stemmer (English)
    query_log: QueryLogPort | None = None  # every question, FAQ entries (SQLite/PostgreSQL); None: not recorded
    generator: GeneratorPort | None = None  # an LLM writing the answer when MADOGUCHI_LLM is set; None = extractive
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)  # one writer of the store per process
    last_ingest: dict | None = None  # this process's last ingest report (the store keeps the last of any process)
    # Called when staff resolve a question (the Slack bot relays the answer to the asker); see app/ops/resolutions.py.
    resolution_hooks: list[ResolutionHook] = field(default_factory=list)
    # Questions per asker per minute (app/ops/ratelimit.py); build_services sets MADOGUCHI_RATE_LIMIT_PER_MINUTE.
    ask_limits: Buckets = field(default_factory=lambda: TokenBuckets(per_minute=0))
    # 👍/👎 per client per minute on /api/feedback (the same setting, its own buckets: clicks do not spend questions).
    feedback_limits: Buckets = field(default_factory=lambda: TokenBuckets(per_minute=0))
    # The outgoing webhook (MADOGUCHI_WEBHOOK_URL; app/ops/webhooks.py), and what else hears of escalations from any
    # channel (the Slack bot posts them to the staff channel); see app/ops/events.py.
    webhooks: WebhookSender | None = None
    escalation_hooks: list[EscalationHook] = field(default_factory=list)
    # The deployment's own query adapter (`madoguchi adapt`), followed in the shared database; none: the shipped one.
    adapter: ActiveAdapter = field(default_factory=ActiveAdapter)
    reranker: RerankStage | None = None  # MADOGUCHI_RERANKER (app/retrieval/rerank.py); None: the learned order
    calibration: Calibration | None = None  # threshold + confidence map (app/ops/calibration.py); None: the settings'
    reembed_job: ReembedJob | None = None  # a background re-embed in this process (app/ops/reembed.py)

    def ingest(
        self,
        *,
        paths: list[Path],
        prune: bool = False,
        progress: bool = False,
        source_names: dict[str, str] | None = None,
        by: str = "cli",
    ) -> IngestReport:
        """Ingest under the process-wide write lock, then swap in the new snapshot. The report, its time and
        `by` (who ran it: cli | api | console) are kept in the store, so every process shows the last ingest."""
        raise_if_reembedding(self)  # 409 during a re-embed
        with self.ingest_lock:
            report = ingest(
                paths=paths,
                store=self.store,
                embedder=self.embedder,
                tokenizer=self.tokenizer,
                category_patterns=self.settings.category_patterns,
                prune=prune,
                progress=progress,
                source_names=source_names,
                default_root=self.settings.docs_dir,
                shared=bool(self.settings.chroma_url),
            )
            self.last_ingest = {**report.to_dict(), "at": utcnow().isoformat(timespec="seconds"), "by": by}
            try:
                self.store.put_last_ingest(self.last_ingest)
            except StoreUnavailableError:
                logger.exception("could not record the last ingest in the store")
        self.index.refresh()
        return report

    def repair_store(self) -> None:
        """Delete chunks left by an ingest that stopped half-way and bump the version (ingest.pipeline.repair_store)."""
        with self.ingest_lock:
            version = repair_store(store=self.store, embedder=self.embedder)
        if version is not None:
            self.index.refresh()

    def require_log(self) -> QueryLogPort:
        """The query log, or a 404 `no_query_log` for the routes and pages that need one."""
        if self.query_log is None:
            raise NotFoundError(
                "The query log is not configured.", "質問ログが設定されていません。", code="no_query_log"
            )
        return self.query_log

    def check_embedder(self) -> None:
        """Refuse to serve vectors made by another embedder than the configured one."""
        stored = self.index.embedder_name
        if stored and stored != self.embedder.name:
            raise ConfigError(
                f"The index was built with embedder {stored!r} but MADOGUCHI_EMBEDDER is {self.embedder.name!r}; "
                "re-embed the store with `madoguchi reembed` (new vectors are built beside the old ones and swapped in at "
                "once), ingest the documents into a new MADOGUCHI_DATA_DIR (or MADOGUCHI_COLLECTION), or change the setting back.",
                f"索引は埋め込みモデル {stored!r} で作成されていますが、設定は {self.embedder.name!r} です。"
                "`madoguchi reembed` でベクトルを作り直す（旧ベクトルの横に新しいものを作り、一度に切り替えます）か、"
                "新しい MADOGUCHI_DATA_DIR（または MADOGUCHI_COLLECTION）に文書を取り込むか、設定を戻してください。",
            )


def build_services(
    settings: Settings,
    *,
    load_index: bool = True,
    with_log: bool = True,
    embedder: EmbedderPort | None = None,
    tokenizer: Tokenizer | None = None,
) -> Services:
    """Build every long-lived part. `embedder` / `tokenizer` may be passed in to share them (tests, eval)."""
    private_dir(settings.data_dir)
    store = ChunkStore(settings)
    query_log = QueryLog.from_settings(settings) if with_log else None
    services = Services(
        settings=settings,
        store=store,
        index=CorpusIndex(store, glossary=Glossary.load(extra_file=settings.glossary_file)),
        embedder=embedder
        or make_embedder(
            settings.embedder,
            threads=settings.embedder_threads,
            models_dir=settings.models_dir,
            device=settings.model_device,
        ),
        tokenizer=tokenizer or Tokenizer(),
        query_log=query_log,
        generator=_make_generator(settings),
        ask_limits=TokenBuckets(per_minute=settings.rate_limit_per_minute),
        webhooks=WebhookSender.from_settings(settings, query_log.webhook_deliveries if query_log else None),
        feedback_limits=TokenBuckets(per_minute=settings.rate_limit_per_minute),
        reranker=_make_reranker(settings),
        calibration=load_calibration(settings),
    )
    if query_log is not None:
        services.adapter = ActiveAdapter(
            version_of=query_log.adapters.active_version,
            load=query_log.adapters.load,
            ttl=settings.adapter_refresh_seconds,
        )
    services.index.serving_embedder = services.embedder.name
    services.index.encoder = services.embedder
    if settings.rate_limit_shared and isinstance(services.query_log, QueryLog):  # every replica spends one bucket
        per_minute = settings.rate_limit_per_minute
        services.ask_limits = SharedBuckets(services.query_log, per_minute=per_minute, prefix="ask")
        services.feedback_limits = SharedBuckets(services.query_log, per_minute=per_minute, prefix="feedback")
    if load_index:
        services.index.refresh()
    return services


def _make_generator(settings: Settings) -> GeneratorPort | None:
    return None if settings.llm == "none" else make_generator(settings)


def _make_reranker(settings: Settings) -> RerankStage | None:
    reranker = make_reranker(
        settings.reranker,
        threads=settings.embedder_threads,
        models_dir=settings.models_dir,
        device=settings.model_device,
    )
    return None if reranker is None else RerankStage(reranker)
