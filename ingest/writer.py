"""How an ingest writes to the chunk store: in groups of documents, in an order that survives a crash anywhere.

Each group is three writes — every new chunk (one upsert), every manifest record (one upsert), then every chunk no
record points at any more (one delete) — so ingesting many small documents costs a few store calls per group
instead of several per document. A reader only serves the chunks whose id carries its document's current hash
(`app.retrieval.index`), so at any moment each document is served in its old or its new edition, never half.

Before the first write the corpus record is marked `dirty`; `bump_version` at the end clears the mark. A process
that stops half-way leaves the mark (and perhaps chunks no record points at): `check_store` finds both at the next
ingest or start-up, the stale chunks are deleted and the version is bumped so every replica reloads.

`fault` is a test-only hook: called with the name of each step boundary (`chunks`, `records`, `stale`, `removed`,
`version`); a test makes it raise to stop the ingest exactly there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.ports import ChunkStorePort
from app.store.chroma import ChunkRows, DocRecord

logger = logging.getLogger(__name__)

Fault = Callable[[str], None]
IN_FLIGHT_S = 900.0  # a dirty mark younger than this on a shared store may be another replica's ingest in flight


def split_chunk_id(cid: str) -> tuple[str, str]:
    """(doc_id, hash prefix) of a chunk id `doc_id#hash16#position` (a doc id may itself contain `#`)."""
    parts = cid.rsplit("#", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else (cid, "")


def ids_by_document(ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cid in ids:
        out.setdefault(split_chunk_id(cid)[0], []).append(cid)
    return out


@dataclass
class StoreCheck:
    """What the store holds beside the manifest: chunk ids per document, chunks nothing points at, documents whose
    chunks are missing, and whether the last writer stopped before bumping the version."""

    ids_by_doc: dict[str, list[str]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    incomplete: set[str] = field(default_factory=set)
    dirty: bool = False
    dirty_at: float = 0.0  # when the unfinished write began (Unix time)

    def writer_may_be_running(self, *, now: float) -> bool:
        """On a store other processes write too (a Chroma server), a recent dirty mark may be another replica's
        ingest in flight: its new chunks have no record yet and must not be taken for stale ones."""
        return self.dirty and now - self.dirty_at < IN_FLIGHT_S

    @property
    def needs_repair(self) -> bool:
        return bool(self.stale or self.incomplete or self.dirty)


def check_store(store: ChunkStorePort, manifest: dict[str, DocRecord]) -> StoreCheck:
    """Compare the stored chunk ids with the manifest (ids only: they carry doc id and hash)."""
    info = store.corpus_info()
    check = StoreCheck(dirty=bool(info.get("dirty")), dirty_at=float(info.get("dirty_at") or 0.0))
    current: dict[str, int] = {}
    for cid in store.all_chunk_ids():
        doc_id, prefix = split_chunk_id(cid)
        check.ids_by_doc.setdefault(doc_id, []).append(cid)
        record = manifest.get(doc_id)
        if record is None or record.status != "ok" or record.hash[:16] != prefix:
            check.stale.append(cid)
        else:
            current[doc_id] = current.get(doc_id, 0) + 1
    for doc_id, record in manifest.items():
        if record.status == "ok" and current.get(doc_id, 0) != record.chunks:
            check.incomplete.add(doc_id)
    return check


class EditionWriter:
    """Collects documents (new chunks + record), failures and removals, and writes them a group at a time."""

    def __init__(
        self,
        store: ChunkStorePort,
        *,
        ids_by_doc: dict[str, list[str]] | None = None,
        batch_docs: int = 256,
        batch_chunks: int = 2000,
        fault: Fault | None = None,
    ) -> None:
        self.store = store
        self.ids_by_doc = ids_by_doc if ids_by_doc is not None else {}
        self.batch_docs = batch_docs
        self.batch_chunks = batch_chunks
        self.fault = fault
        self.wrote = False  # anything written (the caller bumps the version)
        self._rows: list[ChunkRows] = []
        self._records: list[DocRecord] = []
        self._drop: list[str] = []  # chunk ids to delete after the records are written
        self._remove: list[str] = []  # doc ids whose records go (then their chunks)
        self._chunks = 0

    def _step(self, name: str) -> None:
        if self.fault is not None:
            self.fault(name)

    def _old_ids(self, doc_id: str) -> list[str]:
        return self.ids_by_doc.pop(doc_id, [])

    def put(self, record: DocRecord, rows: ChunkRows) -> None:
        """A document's new edition: its chunks, then its record; its chunks of any other hash are dropped."""
        new = set(rows.ids)
        self._drop.extend(cid for cid in self._old_ids(record.doc_id) if cid not in new)
        self._rows.append(rows)
        self._records.append(record)
        self._chunks += len(rows.ids)
        if len(self._records) >= self.batch_docs or self._chunks >= self.batch_chunks:
            self.flush()

    def fail(self, record: DocRecord) -> None:
        """A document that failed: its record says so (no reader serves it) and its chunks go."""
        self._drop.extend(self._old_ids(record.doc_id))
        self._records.append(record)
        if len(self._records) >= self.batch_docs:
            self.flush()

    def remove(self, doc_id: str) -> None:
        self._remove.append(doc_id)

    def discard(self, ids: list[str]) -> None:
        """Chunks no record points at (found by `check_store`)."""
        drop = set(ids)
        self._drop.extend(ids)
        for doc_id in {split_chunk_id(c)[0] for c in ids}:
            if doc_id in self.ids_by_doc:
                self.ids_by_doc[doc_id] = [c for c in self.ids_by_doc[doc_id] if c not in drop]

    def flush(self) -> None:
        if not (self._rows or self._records or self._drop or self._remove):
            return
        if not self.wrote:
            self.store.mark_dirty()
            self.wrote = True
        rows = [r for r in self._rows if r.ids and r.embeddings is not None]
        written = {i for r in rows for i in r.ids}  # a chunk rewritten now is not dropped (e.g. one found stale)
        if rows:
            self.store.add_chunks(
                ids=[i for r in rows for i in r.ids],
                embeddings=np.vstack([np.asarray(r.embeddings, dtype=np.float32) for r in rows]),
                documents=[d for r in rows for d in r.documents],
                metadatas=[m for r in rows for m in r.metadatas],
            )
            self._step("chunks")
        if self._records:
            self.store.put_records(self._records)
            self._step("records")
        if self._remove:
            self.store.delete_records(self._remove)
            for doc_id in self._remove:
                self._drop.extend(self._old_ids(doc_id))
            self._step("removed")
        drop = sorted(set(self._drop) - written)
        if drop:
            self.store.delete_chunks(drop)
            self._step("stale")
        self._rows, self._records, self._drop, self._remove, self._chunks = [], [], [], [], 0

    def finish(self, *, embedder: str, repaired: bool) -> int | None:
        """Write what is left and bump the version when anything was written or repaired; None otherwise."""
        self.flush()
        if not (self.wrote or repaired):
            return None
        self._step("before_version")
        version = self.store.bump_version(embedder=embedder)
        self._step("version")
        return version
