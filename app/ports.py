"""What the rest of Madoguchi needs from its four swappable components, as `typing.Protocol`s.

`Services` (app/services.py) holds one of each. The real implementations satisfy them structurally:

| protocol          | implementation(s)                                                            |
| ----------------- | ---------------------------------------------------------------------------- |
| `ChunkStorePort`  | `app.store.chroma.ChunkStore` (embedded Chroma or a Chroma server)           |
| `EmbedderPort`    | `app.retrieval.embedders.Embedder` subclasses (USE-m3, sentence-transformers) |
| `GeneratorPort`   | `app.generate.Generator` (OpenAI-compatible or Ollama chat model)            |
| `QueryLogPort`    | `app.store.querylog.QueryLog` (SQLite or PostgreSQL)                          |
| `SlackLogPort`    | `QueryLog`, or `app.slack.conversations.LocalLog` when there is no query log  |

A reader follows a question through these types; a test can hand in anything that has the same shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # type-only: app.answer and the stores take `Services`, which is typed with these protocols
    from app.answer import Retrieval
    from app.result import AnswerResult
    from app.store.accounts import StaffAccounts
    from app.store.adapters import AdapterVersions
    from app.store.audit import AuditTrail
    from app.store.chroma import ChunkRows, DocRecord
    from app.store.querylog import QueryFilter, QueryRecord
    from app.store.querylog_faq import FaqEntries
    from app.store.querylog_webhooks import WebhookDeliveries


class ChunkStorePort(Protocol):
    """Chunks with their vectors, the document manifest, the corpus version and the staff's company vocabulary
    (shared by ingest and serving)."""

    location: str

    def heartbeat(self) -> None: ...
    def corpus_info(self) -> dict: ...
    def bump_version(self, *, embedder: str) -> int: ...
    def glossary(self) -> dict[str, str]: ...
    def put_glossary(self, entries: dict[str, str]) -> None: ...
    def manifest(self) -> dict[str, DocRecord]: ...
    def put_record(self, record: DocRecord) -> None: ...
    def delete_record(self, doc_id: str) -> None: ...
    def add_chunks(
        self, *, ids: list[str], embeddings: np.ndarray, documents: list[str], metadatas: list[dict]
    ) -> None: ...
    def chunk_ids_of(self, doc_id: str) -> list[str]: ...
    def delete_chunks(self, ids: list[str]) -> None: ...
    def load_chunks(self, doc_ids: list[str] | None = None) -> ChunkRows: ...
    def query_dense(self, vector: np.ndarray, *, k: int, category: str | None) -> list[tuple[str, float]]: ...


class EmbedderPort(Protocol):
    """Texts → L2-normalized float32 vectors. `name` is stored with the corpus: vectors of two embedders never mix."""

    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...
    def encode_query(self, text: str) -> np.ndarray: ...


class GeneratorPort(Protocol):
    """An LLM that rewrites the extractive result from the retrieved passages (or returns it, marked, on failure)."""

    def generate(self, *, result: AnswerResult, retrieval: Retrieval, threshold: float) -> AnswerResult: ...


class SlackLogPort(Protocol):
    """What the Slack bot keeps per question: the record with its Slack coordinates, and each event seen once."""

    def claim_event(self, key: str) -> bool: ...
    def record(self, result: AnswerResult, *, meta: dict | None = None) -> None: ...
    def get(self, query_id: str) -> QueryRecord | None: ...
    def set_feedback(self, query_id: str, helpful: bool) -> QueryRecord | None: ...
    def escalate(self, query_id: str, reason: str) -> QueryRecord | None: ...
    def update_meta(self, query_id: str, **values: Any) -> QueryRecord | None: ...
    def find_by_meta(self, key: str, value: object) -> QueryRecord | None: ...
    def resolve(self, query_id: str, *, answer: str, by: str | None = None) -> QueryRecord | None: ...
    def assign(self, query_id: str, assignee: str) -> QueryRecord | None: ...
    def of_asker(self, user_id: str, *, limit: int = 50) -> list[QueryRecord]: ...


class QueryLogPort(SlackLogPort, Protocol):
    """Every question as a row, read back by the staff: filters, pages, exports, stats, and the FAQ entries table."""

    faq: FaqEntries
    adapters: AdapterVersions
    webhook_deliveries: WebhookDeliveries

    def assign(self, query_id: str, assignee: str) -> QueryRecord: ...
    def follow_up_hash_of(self, query_id: str) -> str | None: ...

    accounts: StaffAccounts
    audit: AuditTrail

    def record(self, result: AnswerResult, *, meta: dict | None = None, created_at: datetime | None = None) -> None: ...
    def set_feedback(self, query_id: str, helpful: bool) -> QueryRecord: ...
    def resolve(self, query_id: str, *, answer: str, by: str | None = None) -> QueryRecord: ...
    def count(self, flt: QueryFilter | None = None) -> int: ...
    def search(
        self, flt: QueryFilter | None = None, *, offset: int = 0, limit: int | None = 50
    ) -> list[QueryRecord]: ...
    def iter_records(self, flt: QueryFilter | None = None, *, batch: int = 500) -> Iterator[QueryRecord]: ...
    def stat_rows(self, flt: QueryFilter | None = None) -> list[tuple]: ...
    def close(self) -> None: ...


ResolutionHook = Callable[["QueryRecord", str], "bool | None | Awaitable[bool | None]"]
"""Called as `hook(record, answer)` when the staff resolve a question; True when it delivered the answer to the
asker (the Slack bot relays console answers this way), None when the question was not its to deliver."""

EscalationHook = Callable[["QueryRecord"], None]
"""Called as `hook(record)` when a question from any channel goes to the staff (app/ops/events.py); must return
quickly (the Slack bot queues its staff-channel post on its own workers)."""
