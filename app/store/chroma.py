"""Chroma access shared by `ingest/` and serving.

Two collections:
- `<prefix>_chunks`: one record per chunk — our own embedding, the chunk text as the document, and metadata
  (doc_id, source, title, section, page, category, kind, question, url, doc_hash, tokens). The Sudachi tokens
  are stored with the chunk so every process rebuilds the same lexical index from what Chroma holds.
- `<prefix>_meta`: the document manifest (`doc:<doc_id>` → source, title, category, hash, chunks, ingested_at,
  status, error), the corpus record (`corpus` → version, embedder) and the staff's company vocabulary (`glossary`
  → a JSON object word → formal terms as the record's document) and the last ingest (`last_ingest` → its report,
  time and runner as JSON, whoever ran it: CLI, API or console). Every ingest that changes anything bumps the
  version, and so does every vocabulary edit; servers reload when they see a newer one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlparse

import numpy as np

from app.errors import StoreUnavailableError
from app.settings import Settings
from app.store.private import private_dir

logger = logging.getLogger(__name__)

_GLOSSARY = "glossary"  # id (and `record` kind) of the staff's vocabulary in the meta collection
_LAST_INGEST = "last_ingest"  # id (and `record` kind) of the last ingest's report
_PAGE = 1000  # chunks per read when loading everything: vs 5000, ~45% less peak memory loading 10k chunks (docker/sizing.py)


@dataclass
class DocRecord:
    doc_id: str
    source: str
    title: str
    category: str
    hash: str
    chunks: int
    ingested_at: float
    status: str = "ok"  # ok | failed
    error: str | None = None
    error_ja: str | None = None
    kind: str = "doc"  # doc | faq
    url: str | None = None
    embedder: str = ""
    chars: int = 0
    schema: int = 0  # ingest.pipeline.INDEX_SCHEMA that wrote the chunks: an older one is re-indexed
    root: str = ""  # the folder it was ingested from (absolute): `--prune` only touches documents under its folder

    def to_metadata(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return data

    @classmethod
    def from_metadata(cls, meta: dict) -> DocRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in meta.items() if k in known})


@dataclass
class ChunkRows:
    ids: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    metadatas: list[dict] = field(default_factory=list)
    embeddings: np.ndarray | None = None


def _unavailable(exc: Exception) -> StoreUnavailableError:
    if isinstance(exc, StoreUnavailableError):
        return exc
    return StoreUnavailableError(
        f"The document store (Chroma) is unavailable: {exc}",
        f"文書ストア（Chroma）に接続できません: {exc}",
    )


class ChunkStore:
    def __init__(self, settings: Settings) -> None:
        import chromadb  # deferred: ~0.7 s to import; the CLI talking to a running server never opens a store

        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        self._client = None
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            # Connected on first use (and again after a failure): a replica may start before the Chroma server.
            self._connect = lambda: chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            self.location = settings.chroma_url
        else:
            private_dir(settings.chroma_path)
            self._client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
            self.location = str(settings.chroma_path)
        self.prefix = settings.collection
        self._chunks = None
        self._chunks_name = ""  # the collection `_chunks` is a handle to (the corpus record names it; see reembed)
        self._meta = None

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = self._connect()
            except Exception as exc:  # noqa: BLE001 - chromadb raises ValueError when the server is down
                raise _unavailable(exc) from exc
        return self._client

    # --- collections (created lazily so a server can start while Chroma is still coming up) ---
    @property
    def default_chunks_name(self) -> str:
        return f"{self.prefix}_chunks"

    @property
    def chunks(self):
        if self._chunks is None:
            name = str(self.corpus_info().get("chunks") or self.default_chunks_name)
            self._chunks = self.chunk_collection(name)
            self._chunks_name = name
        return self._chunks

    def chunk_collection(self, name: str):
        """A chunks collection by name (created when missing): the live one, or one `madoguchi reembed` builds."""
        return self.client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def drop_collection(self, name: str) -> None:
        self.client.delete_collection(name)

    @property
    def meta(self):
        if self._meta is None:
            self._meta = self.client.get_or_create_collection(f"{self.prefix}_meta", embedding_function=None)
        return self._meta

    def reset_handles(self) -> None:
        self._chunks = None
        self._meta = None

    def heartbeat(self) -> None:
        try:
            self.client.heartbeat()
        except Exception as exc:  # noqa: BLE001
            self.reset_handles()
            raise _unavailable(exc) from exc

    # --- corpus version ---
    def corpus_info(self) -> dict:
        try:
            got = self.meta.get(ids=["corpus"], include=["metadatas"])
        except Exception as exc:  # noqa: BLE001
            self.reset_handles()
            raise _unavailable(exc) from exc
        if not got["ids"]:
            return {"version": 0, "embedder": ""}
        info = dict(got["metadatas"][0])
        if self._chunks is not None and str(info.get("chunks") or self.default_chunks_name) != self._chunks_name:
            self._chunks = None  # another process swapped in a re-embedded collection: follow it
        return info

    def bump_version(self, *, embedder: str, chunks: str | None = None) -> int:
        """A new corpus version (servers reload); also clears the `dirty` mark of an unfinished write. `chunks` names
        the live chunks collection (a re-embed swaps it in with the same single write, so readers see the old
        collection and embedder or the new ones, never a mix)."""
        info = self.corpus_info()
        version = int(info.get("version", 0)) + 1
        record = {"version": version, "embedder": embedder, "updated_at": time.time(), "dirty": 0}
        live = chunks or info.get("chunks")
        if live:
            record["chunks"] = str(live)
        self.meta.upsert(ids=["corpus"], embeddings=[[0.0]], metadatas=[record])
        if chunks is not None:
            self._chunks = None
        return version

    def mark_dirty(self) -> None:
        """Say that a write has begun: until `bump_version` clears it, the next ingest (or start-up) knows the last
        writer may have stopped half-way, checks the chunks against the manifest and bumps the version."""
        info = self.corpus_info()
        self.meta.upsert(
            ids=["corpus"],
            embeddings=[[0.0]],
            metadatas=[
                {
                    **info,
                    "version": int(info.get("version", 0)),
                    "embedder": info.get("embedder") or "",
                    "dirty": 1,
                    "dirty_at": time.time(),
                }
            ],
        )

    # --- the staff's company vocabulary (社内用語) ---
    def glossary(self) -> dict[str, str]:
        """The staff's entries (word → formal terms); {} when none were ever saved."""
        try:
            got = self.meta.get(ids=[_GLOSSARY], include=["documents"])
        except Exception as exc:  # noqa: BLE001
            self.reset_handles()
            raise _unavailable(exc) from exc
        if not got["ids"] or not got["documents"] or not got["documents"][0]:
            return {}
        try:
            data = json.loads(got["documents"][0])
        except ValueError:
            logger.error(
                "the %s record of %s_meta is not JSON; serving without the staff's vocabulary", _GLOSSARY, self.prefix
            )
            return {}
        if not isinstance(data, dict):
            logger.error("the %s record of %s_meta is not a JSON object; ignored", _GLOSSARY, self.prefix)
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def put_glossary(self, entries: dict[str, str]) -> None:
        """Replace the staff's entries (the caller bumps the corpus version so every server reloads them)."""
        try:
            self.meta.upsert(
                ids=[_GLOSSARY],
                embeddings=[[0.0]],
                documents=[json.dumps(dict(sorted(entries.items())), ensure_ascii=False)],
                metadatas=[{"record": _GLOSSARY, "terms": len(entries), "updated_at": time.time()}],
            )
        except Exception as exc:  # noqa: BLE001
            self.reset_handles()
            raise _unavailable(exc) from exc

    # --- the last ingest (any process, any road) ---
    def last_ingest(self) -> dict | None:
        """The report of the last ingest into this store with `at` (ISO, UTC) and `by` (cli | api | console), or None."""
        try:
            got = self.meta.get(ids=[_LAST_INGEST], include=["documents"])
        except Exception as exc:  # noqa: BLE001
            self.reset_handles()
            raise _unavailable(exc) from exc
        if not got["ids"] or not got["documents"] or not got["documents"][0]:
            return None
        try:
            data = json.loads(got["documents"][0])
        except ValueError:
            logger.error("the %s record of %s_meta is not JSON; ignored", _LAST_INGEST, self.prefix)
            return None
        return data if isinstance(data, dict) else None

    def put_last_ingest(self, report: dict) -> None:
        try:
            self.meta.upsert(
                ids=[_LAST_INGEST],
                embeddings=[[0.0]],
                documents=[json.dumps(report, ensure_ascii=False)],
                metadatas=[{"record": _LAST_INGEST, "updated_at": time.time()}],
            )
        except Exception as exc:  # noqa: BLE001
            self.reset_handles()
            raise _unavailable(exc) from exc

    # --- manifest ---
    def manifest(self) -> dict[str, DocRecord]:
        got = self.meta.get(where={"record": "doc"}, include=["metadatas"])
        out = {}
        for meta in got["metadatas"]:
            rec = DocRecord.from_metadata(meta)
            out[rec.doc_id] = rec
        return out

    def put_record(self, record: DocRecord) -> None:
        meta = record.to_metadata()
        meta["record"] = "doc"
        self.meta.upsert(ids=[f"doc:{record.doc_id}"], embeddings=[[0.0]], metadatas=[meta])

    def put_records(self, records: list[DocRecord]) -> None:
        """Several manifest records in one write."""
        for start in range(0, len(records), 2000):
            part = records[start : start + 2000]
            self.meta.upsert(
                ids=[f"doc:{r.doc_id}" for r in part],
                embeddings=[[0.0]] * len(part),
                metadatas=[{**r.to_metadata(), "record": "doc"} for r in part],
            )

    def delete_record(self, doc_id: str) -> None:
        self.meta.delete(ids=[f"doc:{doc_id}"])

    def delete_records(self, doc_ids: list[str]) -> None:
        for start in range(0, len(doc_ids), 2000):
            self.meta.delete(ids=[f"doc:{d}" for d in doc_ids[start : start + 2000]])

    # --- chunks ---
    def add_chunks(
        self, *, ids: list[str], embeddings: np.ndarray, documents: list[str], metadatas: list[dict]
    ) -> None:
        step = max(1, min(self.client.get_max_batch_size(), 2000))
        for start in range(0, len(ids), step):
            end = start + step
            self.chunks.upsert(
                ids=ids[start:end],
                embeddings=embeddings[start:end],
                documents=documents[start:end],
                metadatas=metadatas[start:end],
            )

    def chunk_ids_of(self, doc_id: str) -> list[str]:
        return list(self.chunks.get(where={"doc_id": doc_id}, include=[])["ids"])

    def all_chunk_ids(self) -> list[str]:
        """Every chunk id (ids only, paged): the ingest's check of the store against the manifest."""
        ids: list[str] = []
        offset = 0
        while True:
            got = self.chunks.get(limit=10_000, offset=offset, include=[])["ids"]
            ids.extend(got)
            if len(got) < 10_000:
                return ids
            offset += 10_000

    def delete_chunks(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 2000):
            self.chunks.delete(ids=ids[start : start + 2000])

    def load_chunks(self, doc_ids: list[str] | None = None) -> ChunkRows:
        """Every chunk (or the chunks of `doc_ids`) with its embedding, paged."""
        rows = ChunkRows()
        vectors: list[np.ndarray] = []
        try:
            if doc_ids is not None:
                for start in range(0, len(doc_ids), 100):
                    part = doc_ids[start : start + 100]
                    where = {"doc_id": part[0]} if len(part) == 1 else {"doc_id": {"$in": part}}
                    self._extend(
                        rows, vectors, self.chunks.get(where=where, include=["embeddings", "documents", "metadatas"])
                    )
            else:
                offset = 0
                while True:
                    got = self.chunks.get(limit=_PAGE, offset=offset, include=["embeddings", "documents", "metadatas"])
                    self._extend(rows, vectors, got)
                    if len(got["ids"]) < _PAGE:
                        break
                    offset += _PAGE
        except Exception as exc:  # noqa: BLE001
            self.reset_handles()
            raise _unavailable(exc) from exc
        rows.embeddings = np.vstack(vectors).astype(np.float32) if vectors else None
        return rows

    @staticmethod
    def _extend(rows: ChunkRows, vectors: list[np.ndarray], got: dict) -> None:
        if not got["ids"]:
            return
        rows.ids.extend(got["ids"])
        rows.documents.extend(got["documents"])
        rows.metadatas.extend(got["metadatas"])
        vectors.append(np.asarray(got["embeddings"], dtype=np.float32))

    def query_dense(self, vector: np.ndarray, *, k: int, category: str | None) -> list[tuple[str, float]]:
        where = {"category": category} if category else None
        try:
            got = self.chunks.query(query_embeddings=[vector], n_results=k, where=where, include=["distances"])
        except Exception as exc:  # noqa: BLE001
            self.reset_handles()
            raise _unavailable(exc) from exc
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(got["ids"][0], got["distances"][0])]


def dumps_tokens(tokens: list[str]) -> str:
    return json.dumps(tokens, ensure_ascii=False, separators=(",", ":"))


def loads_tokens(text: str) -> list[str]:
    return json.loads(text) if text else []
