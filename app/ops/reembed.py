"""Switching the embedder on an existing store: `madoguchi reembed`.

The chunks keep their text, tokens and metadata; only the vectors change. A new chunks collection is built beside
the live one (body and heading vectors from the new embedder, written in batches with progress), then one write of
the corpus record swaps it in together with the new embedder's name and a new corpus version. Until that write,
every reader answers from the old collection; after it, a server reloads its snapshot from the new one. The old
collection is dropped afterwards. If an ingest changed the corpus meanwhile, nothing is swapped (run it again).

It runs as a command, not inside the server: a running server keeps embedding questions with the embedder it was
started with, so it must be restarted with the new MADOGUCHI_EMBEDDER after the swap (the start-up check refuses a
mismatch, pointing here). For an embedded store the command claims the data directory like `madoguchi ingest`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.errors import BadRequestError
from app.ports import EmbedderPort
from app.retrieval.index import encode_head_vector
from app.store.chroma import ChunkStore

logger = logging.getLogger(__name__)

BATCH = 64


@dataclass
class ReembedReport:
    old_embedder: str
    new_embedder: str
    old_collection: str
    new_collection: str
    chunks: int
    version: int
    seconds: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _heading(meta: dict) -> str:
    section = str(meta.get("section") or "")
    return section.split(" > ")[-1] if section else str(meta.get("title") or "")


def embed_text(text: str, meta: dict) -> str:
    """The text ingest embedded for a chunk (ingest.pipeline.embed_text), rebuilt from what the store keeps."""
    if meta.get("kind") == "faq":
        q = meta.get("question") or ""
        return f"{q}\n{text}" if q else text
    return f"{_heading(meta)}\n{text}"


def head_text(meta: dict) -> str:
    """The heading field ingest embedded (ingest.pipeline.head_text), rebuilt from what the store keeps."""
    heading, title = _heading(meta), str(meta.get("title") or "")
    if meta.get("kind") == "faq":
        return str(meta.get("question") or heading)
    return heading if heading == title else f"{heading} {title}"


def reembed(
    *,
    store: ChunkStore,
    embedder: EmbedderPort,
    progress: Callable[[int, int], None] | None = None,
    batch: int = BATCH,
) -> ReembedReport:
    started = time.perf_counter()
    info = store.corpus_info()
    start_version = int(info.get("version", 0))
    old_name = str(info.get("chunks") or store.default_chunks_name)
    new_name = f"{store.default_chunks_name}_{time.strftime('%Y%m%d%H%M%S')}"
    if new_name == old_name:
        new_name += "b"
    rows = store.load_chunks()
    total = len(rows.ids)
    target = store.chunk_collection(new_name)
    try:
        for start in range(0, total, batch):
            end = min(total, start + batch)
            texts, metas = rows.documents[start:end], rows.metadatas[start:end]
            vectors = embedder.encode([embed_text(t, m) for t, m in zip(texts, metas)])
            heads = list(dict.fromkeys(head_text(m) for m in metas))
            head_vecs = dict(zip(heads, embedder.encode(heads)))
            new_metas = [{**m, "head_vec": encode_head_vector(head_vecs[head_text(m)])} for m in metas]
            target.upsert(
                ids=rows.ids[start:end],
                embeddings=np.asarray(vectors, dtype=np.float32),
                documents=texts,
                metadatas=new_metas,
            )
            if progress is not None:
                progress(end, total)
        if int(store.corpus_info().get("version", 0)) != start_version:
            raise BadRequestError(
                "The corpus changed while re-embedding (an ingest ran); nothing was swapped. Run `madoguchi reembed` again.",
                "再埋め込みの間に文書が更新されたため、切り替えませんでした。`madoguchi reembed` をもう一度実行してください。",
                code="reembed_conflict",
            )
        version = store.bump_version(embedder=embedder.name, chunks=new_name)  # the swap: one write
    except BaseException:
        store.drop_collection(new_name)
        raise
    for rec in store.manifest().values():  # which embedder wrote each document (a crash here: re-indexed later)
        if rec.status == "ok":
            rec.embedder = embedder.name
            store.put_record(rec)
    if old_name != new_name:
        try:
            store.drop_collection(old_name)
        except Exception:  # noqa: BLE001 - the swap is done; a leftover collection only costs disk
            logger.exception("could not drop the old chunks collection %s", old_name)
    return ReembedReport(
        old_embedder=str(info.get("embedder") or ""),
        new_embedder=embedder.name,
        old_collection=old_name,
        new_collection=new_name,
        chunks=total,
        version=version,
        seconds=time.perf_counter() - started,
    )
