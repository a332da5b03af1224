"""The serving index: an immutable snapshot of what Chroma holds, swapped atomically after each change.

A question reads one snapshot from start to end, so it never sees a half-ingested document. The snapshot holds
the chunk texts and metadata, the BM25 matrix built from the tokens stored in Chroma, and the normalized
vectors for exact dense search. `CorpusIndex.refresh()` reloads only the documents whose hash changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from dataclasses import dataclass

import numpy as np

from app.errors import NotReadyError, StoreUnavailableError
from app.retrieval.glossary import Glossary
from app.retrieval.lexical import BM25
from app.store.chroma import ChunkStore, loads_tokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    source: str
    title: str
    section: str
    page: int | None
    category: str
    kind: str
    question: str | None
    url: str | None
    text: str
    tokens: tuple[str, ...]
    position: int
    head_tokens: tuple[str, ...] = ()  # tokens of the heading field: title, section path, FAQ question
    scope: tuple[str, ...] = ()  # employee classes the document applies to (empty: the general rules)
    caption_tokens: tuple[str, ...] = ()  # tokens of the heading's last part: the article caption / FAQ question
    overrides: str = ""  # a staff FAQ entry replacing a sheet row: that row's `doc_id\x1fquestion`
    cites: str = ""  # a staff FAQ entry's cited articles: JSON [[doc_id, section, text hash], …]
    hidden: bool = False  # the tombstone of a deleted sheet row: hides the row, answers nothing itself

    @property
    def sheet_row(self) -> str:
        """`doc_id\x1fquestion` of an FAQ row that came from an ingested sheet ("" otherwise)."""
        if self.kind != "faq" or self.doc_id.startswith("faq:"):
            return ""
        return f"{self.doc_id}\x1f{self.question or ''}"

    @classmethod
    def from_row(cls, cid: str, text: str, meta: dict) -> Chunk:
        page = meta.get("page", -1)
        return cls(
            id=cid,
            doc_id=meta.get("doc_id", ""),
            source=meta.get("source", ""),
            title=meta.get("title", ""),
            section=meta.get("section", ""),
            page=None if page is None or page < 0 else int(page),
            category=meta.get("category", "other"),
            kind=meta.get("kind", "doc"),
            question=meta.get("question") or None,
            url=meta.get("url") or None,
            text=text or "",
            tokens=tuple(loads_tokens(meta.get("tokens", ""))),
            position=int(meta.get("position", 0)),
            head_tokens=tuple(loads_tokens(meta.get("head_tokens", ""))),
            scope=tuple(s for s in str(meta.get("scope", "")).split(",") if s),
            caption_tokens=tuple(loads_tokens(meta.get("caption_tokens", ""))),
            overrides=str(meta.get("overrides") or ""),
            cites=str(meta.get("cites") or ""),
            hidden=bool(meta.get("hidden")),
        )


def head_vector(meta: dict, dim: int) -> np.ndarray | None:
    """The heading field's embedding, stored with the chunk as base64 float16 (None for chunks written before)."""
    raw = meta.get("head_vec")
    if not raw:
        return None
    vec = np.frombuffer(base64.b64decode(raw), dtype=np.float16).astype(np.float32)
    return vec if vec.shape[0] == dim else None


def encode_head_vector(vec: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vec, dtype=np.float16).tobytes()).decode("ascii")


def head_matrix(metas: list[dict], vectors: np.ndarray) -> np.ndarray:
    """Heading vectors of `metas`, falling back to the chunk's own vector where none was stored."""
    if not len(metas):
        return vectors.copy()
    out = np.array(vectors, dtype=np.float32, copy=True)
    for i, m in enumerate(metas):
        v = head_vector(m, out.shape[1])
        if v is not None:
            out[i] = v
    return out


class Snapshot:
    def __init__(
        self,
        *,
        version: int,
        chunks: list[Chunk],
        vectors: np.ndarray,
        doc_hashes: dict[str, str],
        head_vectors: np.ndarray | None = None,
    ) -> None:
        self.version = version
        self.stamp: object = None  # the store's updated_at when loaded (tells two ingests of one version apart)
        self.encoder: object = None  # the embedder these vectors came from (None: the process's embedder)
        self.chunks = chunks
        self.vectors = vectors
        self.head_vectors = vectors if head_vectors is None else head_vectors
        self.doc_hashes = doc_hashes
        self.row_of = {c.id: i for i, c in enumerate(chunks)}
        self.bm25 = BM25([list(c.tokens) for c in chunks])
        self.head_bm25 = BM25([list(c.head_tokens) for c in chunks])
        self.categories = np.asarray([c.category for c in chunks], dtype=object)
        # Sheet FAQ rows a staff entry overrides never answer: the staff's edit wins over the sheet (re-ingest too).
        overridden = {c.overrides for c in chunks if c.overrides}
        self.hidden = np.asarray(
            [c.hidden or (bool(c.sheet_row) and c.sheet_row in overridden) for c in chunks], dtype=bool
        )

    @classmethod
    def of_rows(cls, rows, *, version: int = 0) -> Snapshot:
        """A snapshot of chunk rows as the store returns them (ingest.pipeline.chunk_rows builds the same shape):
        the fast test tier and tools build in-memory indexes with it."""
        chunks = [Chunk.from_row(i, d, m) for i, d, m in zip(rows.ids, rows.documents, rows.metadatas)]
        vectors = np.asarray(rows.embeddings, dtype=np.float32)
        hashes = {c.doc_id: str(m.get("doc_hash", "")) for c, m in zip(chunks, rows.metadatas)}
        return cls(
            version=version,
            chunks=chunks,
            vectors=vectors,
            doc_hashes=hashes,
            head_vectors=head_matrix(rows.metadatas, vectors),
        )

    def __len__(self) -> int:
        return len(self.chunks)

    def section_hash(self, doc_id: str, section: str) -> str | None:
        """Hash of one article's text as it stands in this snapshot (None when the article is gone)."""
        table = self.__dict__.get("_section_hashes")
        if table is None:
            texts: dict[tuple[str, str], list[tuple[int, str]]] = {}
            for c in self.chunks:
                if c.kind == "doc":
                    texts.setdefault((c.doc_id, c.section), []).append((c.position, c.text))
            table = {
                k: hashlib.sha256("\n".join(t for _, t in sorted(v)).encode()).hexdigest()[:16]
                for k, v in texts.items()
            }
            self.__dict__["_section_hashes"] = table
        return table.get((doc_id, section))

    def stale_citations(self, chunk: Chunk) -> list[tuple[str, str]]:
        """(doc_id, section) of the articles an FAQ chunk cites whose text changed since (or that are gone)."""
        if not chunk.cites:
            return []
        try:
            cited = json.loads(chunk.cites)
        except ValueError:
            return []
        return [(d, s) for d, s, h in cited if self.section_hash(d, s) != h]

    def category_mask(self, category: str | None) -> np.ndarray | None:
        """The chunks a question may be answered from: of `category` (all when None), minus overridden sheet rows."""
        visible = ~self.hidden if self.hidden.any() else None
        if not category:
            return visible
        mask = self.categories == category
        return mask if visible is None else mask & visible


class CorpusIndex:
    """Keeps the current snapshot in step with the store."""

    def __init__(self, store: ChunkStore, *, glossary: Glossary | None = None) -> None:
        self.store = store
        # The company vocabulary that questions are expanded with: the default list and the deployment's file (given
        # by the caller), plus the staff's entries from the store, reloaded with every snapshot.
        self.glossary = glossary or Glossary.load()
        self.snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.unavailable = False  # set while the store cannot be reached
        self.embedder_name = ""
        self.chunks_name: str | None = None  # the store's live chunks collection when loaded (None: the default)
        # The embedder this process encodes questions with (set by build_services): a snapshot of another embedder's
        # vectors (a `madoguchi reembed` elsewhere) is not swapped in; the old one keeps answering until a restart.
        self.serving_embedder: str | None = None
        self.embedder_mismatch: str | None = None  # the store's embedder while it differs from serving_embedder
        self.encoder: object | None = None  # the embedder object questions are encoded with; each snapshot keeps it

    @property
    def ready(self) -> bool:
        return self.snapshot is not None

    def use_encoder(self, encoder) -> None:
        """Encode questions with `encoder` from the next snapshot on (a background re-embed swapped the store)."""
        with self._lock:
            self.encoder = encoder
            self.serving_embedder = encoder.name

    def raise_if_unavailable(self) -> None:
        if self.unavailable:
            raise StoreUnavailableError(
                f"The document store is unavailable ({self.last_error}); the staff have been notified by the logs. Try again shortly.",
                "文書ストアに接続できないため、現在回答できません。しばらくしてから再度お試しください。",
            )
        if self.snapshot is None:
            raise NotReadyError(
                "The index is not loaded yet; try again shortly.",
                "索引を読み込み中です。しばらくしてから再度お試しください。",
            )

    def poll(self) -> None:
        """One tick of the background refresher: check the store, load a newer version if any."""
        try:
            self.store.heartbeat()
            self.refresh()
            self.unavailable = False
            self.last_error = None
        except Exception as exc:  # noqa: BLE001 - logged and surfaced through /readyz
            if not self.unavailable:
                logger.error("store unavailable: %s", exc)
            self.unavailable = True
            self.last_error = str(exc)

    def refresh(self, *, force: bool = False) -> bool:
        """Load a newer corpus version if there is one. Returns True when the snapshot changed."""
        with self._lock:
            info = self.store.corpus_info()
            version = int(info.get("version", 0))
            current = self.snapshot
            # Two ingests racing through different replicas can both write version N: `updated_at` tells them apart.
            stamp = info.get("updated_at")
            if (
                current is not None
                and current.version == version
                and getattr(current, "stamp", None) == stamp
                and not force
            ):
                return False
            manifest = self.store.manifest()
            staff_terms = self.store.glossary()  # the 社内用語 page's entries: an edit bumps the version too
            hashes = {d: r.hash for d, r in manifest.items() if r.status == "ok"}
            # A re-embed (app/ops/reembed.py) swaps in another chunks collection: every vector changed, not a document.
            swapped = (info.get("embedder", ""), info.get("chunks")) != (self.embedder_name, self.chunks_name)
            stored = str(info.get("embedder") or "")
            if current is not None and self.serving_embedder and stored and stored != self.serving_embedder:
                message = (
                    f"the store was re-embedded with {stored!r}; this process encodes questions with "
                    f"{self.serving_embedder!r} and keeps answering from its loaded snapshot: restart it with "
                    f"MADOGUCHI_EMBEDDER={stored}"
                )
                if self.embedder_mismatch != stored:
                    logger.error(message)
                self.embedder_mismatch = stored
                return False
            self.embedder_mismatch = None
            if current is None or force or swapped:
                rows = self.store.load_chunks()
                chunks = [Chunk.from_row(i, d, m) for i, d, m in zip(rows.ids, rows.documents, rows.metadatas)]
                vectors = rows.embeddings if rows.embeddings is not None else np.zeros((0, 1), dtype=np.float32)
                heads = head_matrix(rows.metadatas, vectors)
            else:
                changed = [d for d, h in hashes.items() if current.doc_hashes.get(d) != h]
                keep_rows = [
                    i for i, c in enumerate(current.chunks) if hashes.get(c.doc_id) == current.doc_hashes.get(c.doc_id)
                ]
                changed_rows = self.store.load_chunks(changed) if changed else None
                chunks = [current.chunks[i] for i in keep_rows]
                parts = [current.vectors[keep_rows]] if keep_rows else []
                head_parts = [current.head_vectors[keep_rows]] if keep_rows else []
                if changed_rows is not None and changed_rows.ids and changed_rows.embeddings is not None:
                    chunks += [
                        Chunk.from_row(i, d, m)
                        for i, d, m in zip(changed_rows.ids, changed_rows.documents, changed_rows.metadatas)
                    ]
                    parts.append(changed_rows.embeddings)
                    head_parts.append(head_matrix(changed_rows.metadatas, changed_rows.embeddings))
                empty = np.zeros((0, current.vectors.shape[1]), dtype=np.float32)
                vectors = np.vstack(parts) if parts else empty
                heads = np.vstack(head_parts) if head_parts else empty
            # Only chunks of the manifest's current hash count: a half-written document is invisible.
            keep = [
                i
                for i, c in enumerate(chunks)
                if hashes.get(c.doc_id) is not None and c.id.rsplit("#", 2)[1] == hashes[c.doc_id][:16]
            ]
            if len(keep) != len(chunks):
                chunks = [chunks[i] for i in keep]
                vectors = vectors[keep] if len(vectors) else vectors
                heads = heads[keep] if len(heads) else heads
            order = sorted(range(len(chunks)), key=lambda i: (chunks[i].doc_id, chunks[i].position))
            chunks = [chunks[i] for i in order]
            vectors = vectors[order] if len(order) else vectors
            heads = heads[order] if len(order) else heads
            snapshot = Snapshot(version=version, chunks=chunks, vectors=vectors, doc_hashes=hashes, head_vectors=heads)
            snapshot.stamp = stamp
            snapshot.encoder = self.encoder
            self.glossary.replace_extra(staff_terms)
            self.snapshot = snapshot
            self.embedder_name = str(info.get("embedder", ""))
            self.chunks_name = info.get("chunks")
            self.last_error = None
            logger.info("corpus version %s loaded: %d chunks", version, len(chunks))
            return True
