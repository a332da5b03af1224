"""Switching the embedder on an existing store: `madoguchi reembed`.

The chunks keep their text, tokens and metadata; only the vectors change. A new chunks collection is built beside
the live one (body and heading vectors from the new embedder, written in batches with progress), then one write of
the corpus record swaps it in together with the new embedder's name and a new corpus version. Until that write,
every reader answers from the old collection; after it, a server reloads its snapshot from the new one. The old
collection is dropped afterwards. If an ingest changed the corpus meanwhile, nothing is swapped (run it again).

Two ways to run it: `madoguchi reembed` with no server on the data directory (it claims it like `madoguchi
ingest`), or in the background of a running server (`POST /api/admin/reembed`, which `madoguchi reembed` uses when a
server holds the store): the server keeps answering from the old vectors with the old embedder, shows the progress
on `/readyz` and `GET /api/admin/reembed`, and switches embedder and snapshot together at the swap. Either way,
set MADOGUCHI_EMBEDDER to the new embedder before the next restart (the start-up check refuses a mismatch).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from app.errors import BadRequestError, ConfigError, MadoguchiError
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


# --- in the background, inside a running server (`POST /api/admin/reembed`) ---


class ReembedBusyError(MadoguchiError):
    code = "reembed_running"
    status_code = 409


@dataclass
class ReembedJob:
    """One background re-embed in this server process: what it does and how far it is (readyz, the admin API)."""

    embedder: str
    state: Literal["running", "done", "failed"] = "running"
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    error_ja: str | None = None
    report: dict | None = None

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def raise_if_reembedding(services) -> None:
    """Ingests wait for no re-embed: refused at once (409) instead of blocking the request for its whole run."""
    job = getattr(services, "reembed_job", None)
    if job is not None and job.state == "running":
        raise ReembedBusyError(
            f"The store is being re-embedded with {job.embedder} ({job.done}/{job.total}); try again when it is done.",
            f"文書を {job.embedder} で再埋め込み中です（{job.done}/{job.total}）。完了してから再度お試しください。",
        )


def start_reembed(services, *, embedder: str, wait: bool = False) -> ReembedJob:
    """Re-embed the store in a background thread while this server keeps answering from the old vectors; at the
    end the new collection is swapped in (one write), and this server switches its question embedder together
    with its snapshot (each snapshot carries the embedder its vectors came from, so no question mixes the two).
    Other replicas keep their old snapshot until they are restarted with the new MADOGUCHI_EMBEDDER (logged)."""
    from app.retrieval.embedders import make_embedder

    raise_if_reembedding(services)
    if embedder == services.embedder.name:
        raise BadRequestError(
            f"The store already uses {embedder}.",
            f"このストアはすでに {embedder} を使っています。",
            code="same_embedder",
        )
    settings = services.settings
    try:  # loaded before the job starts: an unknown or missing model is refused now (422), not later
        new = make_embedder(
            embedder, threads=settings.embedder_threads, models_dir=settings.models_dir, device=settings.model_device
        )
    except ConfigError as exc:
        raise BadRequestError(exc.detail_en, exc.detail_ja, code="bad_embedder") from exc
    job = ReembedJob(embedder=new.name)
    services.reembed_job = job

    def run() -> None:
        try:
            with services.ingest_lock:
                report = reembed(store=services.store, embedder=new, progress=job.progress)
                services.index.use_encoder(new)
                services.embedder = new
            services.index.refresh()
            job.report = report.to_dict()
            job.state = "done"
        except MadoguchiError as exc:
            job.error, job.error_ja, job.state = exc.detail_en, exc.detail_ja, "failed"
        except Exception as exc:  # noqa: BLE001 - logged with its traceback and shown on readyz / the admin API
            logger.exception("re-embedding with %s failed", new.name)
            job.error, job.error_ja, job.state = str(exc), f"再埋め込みに失敗しました: {exc}", "failed"
        finally:
            job.finished = time.time()

    thread = threading.Thread(target=run, name="reembed", daemon=True)
    thread.start()
    if wait:
        thread.join()
    return job
