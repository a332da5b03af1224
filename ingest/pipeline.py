"""The ingest road: check the store → discover → (skip unchanged by hash) → load → chunk → embed → write in groups
(new chunks → manifest records → drop old chunks) → bump the version.

Exactness: chunk ids carry the document's content hash, the new chunks are written before the manifest (the record
of which hash is current) and the old ones are deleted last; a server only serves chunks of the current hash, so a
reader never sees a half-ingested document. Every run that changed or repaired anything bumps the corpus version so
other processes reload; a run stopped half-way is repaired by the next one (ingest/writer.py).
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.errors import ConfigError, IngestError
from app.ports import ChunkStorePort, EmbedderPort
from app.retrieval.tokenizer import Tokenizer
from app.store.chroma import ChunkRows, DocRecord
from ingest.categories import CATEGORIES, category_for, normalize_category
from ingest.chunker import ChunkDraft, chunk_document
from ingest.loaders import SUPPORTED, LoadedDocument, load
from ingest.rows import (
    EMBED_CHUNKS,
    EMBED_DOCS,
    INDEX_SCHEMA,
    Prepared,
    chunk_id,
    chunk_rows,
    chunk_rows_many,
    document_record,
    embed_text,
    head_text,
)
from ingest.writer import EditionWriter, Fault, check_store

logger = logging.getLogger(__name__)

__all__ = [
    "CATEGORIES",
    "INDEX_SCHEMA",
    "Prepared",
    "chunk_id",
    "chunk_rows",
    "embed_text",
    "head_text",
    "category_for",
    "normalize_category",
    "ingest",
    "index_document",
    "remove_document",
]


@dataclass
class FileResult:
    path: str
    doc_id: str
    status: str  # added | updated | unchanged | failed | removed
    chunks: int = 0
    chars: int = 0
    error: str | None = None
    error_ja: str | None = None


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    version: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {
            "files": [asdict(f) for f in self.files],
            "counts": self.counts(),
            "version": self.version,
            "seconds": round(self.seconds, 3),
            "chars": sum(f.chars for f in self.files if f.status in ("added", "updated")),
            "chunks": sum(f.chunks for f in self.files if f.status in ("added", "updated")),
        }


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def discover(paths: list[Path]) -> list[tuple[Path, str, str]]:
    """(file, doc_id, root) triples. A folder's files get ids relative to it; a single file's id is its name. Ids
    are NFC (a name spelled NFD by macOS and NFC elsewhere is one document); `root` is the absolute folder."""
    found: list[tuple[Path, str, str]] = []
    for root in paths:
        root = Path(root)
        if root.is_dir():
            base = str(root.resolve())
            for p in sorted(root.rglob("*")):
                rel = p.relative_to(root)
                if (
                    p.is_file()
                    and p.suffix.lower() in SUPPORTED
                    and not any(part.startswith((".", "~$")) for part in rel.parts)
                ):
                    found.append((p, nfc(rel.as_posix()), base))
        else:  # a single file (a missing one is reported as failed: not found)
            found.append((root, nfc(root.name), str(root.resolve())))
    return found


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def index_document(
    *,
    store: ChunkStorePort,
    embedder: EmbedderPort,
    tokenizer: Tokenizer,
    doc_id: str,
    source: str,
    doc: LoadedDocument,
    drafts: list[ChunkDraft],
    doc_hash: str,
    category: str,
    kind: str = "doc",
    writer: EditionWriter | None = None,
    extra_meta: dict | None = None,
) -> DocRecord:
    """Write one document's chunks and its manifest record; remove its chunks of any older hash. With `writer`, the
    writes join its group (the caller flushes); without, they are written now (the caller bumps the version).
    `extra_meta` goes into every chunk's metadata (e.g. `overrides` of an FAQ entry that replaces a sheet row)."""
    rows = chunk_rows(
        embedder=embedder,
        tokenizer=tokenizer,
        doc_id=doc_id,
        source=source,
        doc=doc,
        drafts=drafts,
        doc_hash=doc_hash,
        category=category,
        extra_meta=extra_meta,
    )
    record = document_record(
        embedder=embedder,
        doc_id=doc_id,
        source=source,
        doc=doc,
        rows=rows,
        doc_hash=doc_hash,
        category=category,
        kind=kind,
    )
    if writer is not None:
        writer.put(record, rows)
        return record
    own = EditionWriter(store, ids_by_doc={doc_id: store.chunk_ids_of(doc_id)})
    own.put(record, rows)
    own.flush()
    return record


def remove_document(*, store: ChunkStorePort, doc_id: str) -> None:
    store.delete_record(doc_id)
    ids = store.chunk_ids_of(doc_id)
    if ids:
        store.delete_chunks(ids)


def _within(path: str, roots: list[Path]) -> bool:
    if not path:
        return False
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def ingest(
    *,
    paths: list[Path],
    store: ChunkStorePort,
    embedder: EmbedderPort,
    tokenizer: Tokenizer,
    category_patterns: dict[str, str],
    prune: bool = False,
    progress: bool = False,
    source_names: dict[str, str] | None = None,
    default_root: Path | None = None,
    shared: bool = False,
    batch_docs: int = 256,
    fault: Fault | None = None,
) -> IngestReport:
    """Ingest files and folders. `source_names` maps a doc id to the source path to show (uploads).

    `prune` removes the documents that were ingested from one of the folders in `paths` and whose files are gone;
    documents from other folders stay (`default_root`: the folder of records written before roots were kept).
    `shared`: other processes write this store too (a Chroma server), so a recent unfinished write may be theirs.
    The store is first checked against the manifest: chunks no record points at are deleted, documents with
    missing chunks re-indexed, and the version bumped when anything was repaired (ingest/writer.py)."""
    started = time.perf_counter()
    stored = str(store.corpus_info().get("embedder") or "")
    if stored and stored != embedder.name:  # refuse before writing: vectors of two models cannot share a collection
        raise ConfigError(
            f"This store holds vectors of embedder {stored!r}, not {embedder.name!r}. Switch it with `madoguchi reembed`, "
            f"ingest into a new MADOGUCHI_DATA_DIR (or MADOGUCHI_COLLECTION), or set MADOGUCHI_EMBEDDER back to {stored!r}.",
            f"このストアは埋め込みモデル {stored!r} のベクトルを保持しています（設定は {embedder.name!r}）。"
            f"`madoguchi reembed` で切り替えるか、新しい MADOGUCHI_DATA_DIR（または MADOGUCHI_COLLECTION）に取り込むか、"
            f"MADOGUCHI_EMBEDDER を {stored!r} に戻してください。",
        )
    report = IngestReport()
    manifest = store.manifest()
    check = check_store(store, manifest)
    if check.needs_repair:
        logger.warning(
            "repairing the chunk store: %d stale chunks, %d incomplete documents, unfinished write: %s",
            len(check.stale),
            len(check.incomplete),
            check.dirty,
        )
    writer = EditionWriter(store, ids_by_doc=check.ids_by_doc, batch_docs=batch_docs, fault=fault)
    if shared and check.writer_may_be_running(now=time.time()):
        logger.warning("another process may be ingesting into this shared store: its unrecorded chunks are left alone")
    else:
        writer.discard(check.stale)
    files = discover(paths)
    folder_roots = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    legacy_root = str(Path(default_root).resolve()) if default_root is not None else ""
    seen: set[str] = set()
    prepared: list[Prepared] = []  # loaded and chunked, waiting to be embedded together
    iterator = files
    if progress and sys.stderr.isatty() and len(files) > 1:
        from tqdm import tqdm

        iterator = tqdm(files, desc="ingest", unit="file", file=sys.stderr)
    for path, doc_id, root in iterator:
        if doc_id in seen:
            logger.warning("ingest: %s has the same name as another file (in another Unicode spelling); skipped", path)
            continue
        seen.add(doc_id)
        source = (source_names or {}).get(doc_id, doc_id)
        failed: DocRecord | None = None
        try:
            if not path.exists():
                raise IngestError(f"File not found: {path}", f"ファイルが見つかりません: {path}")
            data = path.read_bytes()
            digest = file_hash(data)
            previous = manifest.get(doc_id)
            if (
                previous
                and previous.hash == digest
                and previous.status == "ok"
                and previous.embedder == embedder.name
                and previous.schema == INDEX_SCHEMA
                and doc_id not in check.incomplete
            ):
                report.files.append(FileResult(str(path), doc_id, "unchanged", previous.chunks, previous.chars))
                continue
            doc = load(path)
            drafts = chunk_document(doc)
            if not drafts:
                raise IngestError("No text to index was found.", "取り込める本文が見つかりません。")
            result = FileResult(str(path), doc_id, "updated" if previous else "added", len(drafts), doc.chars)
            report.files.append(result)
            prepared.append(
                Prepared(
                    doc_id=doc_id,
                    source=source,
                    doc=doc,
                    drafts=drafts,
                    doc_hash=digest,
                    category=category_for(doc_id, doc.category, category_patterns),
                    root=root,
                    result=result,
                )
            )
        except IngestError as exc:
            logger.warning("ingest failed for %s: %s", path, exc.detail_en)
            report.files.append(FileResult(str(path), doc_id, "failed", error=exc.detail_en, error_ja=exc.detail_ja))
            failed = _failed_record(manifest=manifest, doc_id=doc_id, source=source, path=path, error=exc, root=root)
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
            logger.exception("unexpected error while ingesting %s", path)
            err = IngestError(f"Unexpected error: {exc}", f"予期しないエラー: {exc}")
            report.files.append(FileResult(str(path), doc_id, "failed", error=err.detail_en, error_ja=err.detail_ja))
            failed = _failed_record(manifest=manifest, doc_id=doc_id, source=source, path=path, error=err, root=root)
        # Store writes happen outside the per-file handler: a store failure stops the ingest instead of being
        # reported as this file's failure.
        if failed is not None:
            writer.fail(failed)
        if len(prepared) >= EMBED_DOCS or sum(len(it.drafts) for it in prepared) >= EMBED_CHUNKS:
            _embed_and_put(prepared, embedder=embedder, tokenizer=tokenizer, manifest=manifest, writer=writer)
            prepared = []
    _embed_and_put(prepared, embedder=embedder, tokenizer=tokenizer, manifest=manifest, writer=writer)
    for doc_id in manifest:  # a record of another Unicode spelling of a name ingested now: one document
        if doc_id != nfc(doc_id) and nfc(doc_id) in seen:
            writer.remove(doc_id)
            report.files.append(FileResult(manifest[doc_id].source, doc_id, "removed"))
    if prune:
        for doc_id, record in manifest.items():
            if nfc(doc_id) not in seen and record.kind == "doc" and _within(record.root or legacy_root, folder_roots):
                writer.remove(doc_id)
                report.files.append(FileResult(record.source, doc_id, "removed"))
    version = writer.finish(embedder=embedder.name, repaired=check.needs_repair)
    report.version = version if version is not None else int(store.corpus_info().get("version", 0))
    report.seconds = time.perf_counter() - started
    return report


def _embed_and_put(
    items: list[Prepared],
    *,
    embedder: EmbedderPort,
    tokenizer: Tokenizer,
    manifest: dict[str, DocRecord],
    writer: EditionWriter,
) -> None:
    """Embed the prepared documents together and hand them to the writer. If the batch fails, each document is
    tried alone, so one bad document fails alone (its report line says why) and the others go in."""
    if not items:
        return
    try:
        rows = chunk_rows_many(embedder=embedder, tokenizer=tokenizer, items=items)
    except Exception:  # noqa: BLE001 - find the document that broke it, one at a time
        logger.warning("embedding %d documents together failed; trying them one by one", len(items), exc_info=True)
        for item in items:
            try:
                one = chunk_rows_many(embedder=embedder, tokenizer=tokenizer, items=[item])[0]
            except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
                logger.exception("unexpected error while indexing %s", item.doc_id)
                err = IngestError(f"Unexpected error: {exc}", f"予期しないエラー: {exc}")
                if item.result is not None:
                    item.result.status, item.result.chunks, item.result.chars = "failed", 0, 0
                    item.result.error, item.result.error_ja = err.detail_en, err.detail_ja
                path = Path(item.result.path) if item.result is not None else Path(item.doc_id)
                failed = _failed_record(
                    manifest=manifest, doc_id=item.doc_id, source=item.source, path=path, error=err, root=item.root
                )
                if failed is not None:
                    writer.fail(failed)
                continue
            _put(item, one, embedder=embedder, writer=writer)
        return
    for item, r in zip(items, rows):
        _put(item, r, embedder=embedder, writer=writer)


def _put(item: Prepared, rows: ChunkRows, *, embedder: EmbedderPort, writer: EditionWriter) -> None:
    record = document_record(
        embedder=embedder,
        doc_id=item.doc_id,
        source=item.source,
        doc=item.doc,
        rows=rows,
        doc_hash=item.doc_hash,
        category=item.category,
        kind=item.kind,
        root=item.root,
    )
    writer.put(record, rows)


def index_many(items: list[Prepared], *, embedder: EmbedderPort, tokenizer: Tokenizer, writer: EditionWriter) -> None:
    """Index documents built elsewhere (FAQ entries, an evaluation corpus): embedded EMBED_DOCS at a time, written
    in the writer's groups (the caller flushes the writer and bumps the version)."""
    for start in range(0, len(items), EMBED_DOCS):
        part = items[start : start + EMBED_DOCS]
        for item, rows in zip(part, chunk_rows_many(embedder=embedder, tokenizer=tokenizer, items=part)):
            _put(item, rows, embedder=embedder, writer=writer)


def repair_store(*, store: ChunkStorePort, embedder: EmbedderPort) -> int | None:
    """The start-up check: delete chunks no manifest record points at and bump the version when a writer stopped
    half-way (documents with missing chunks are re-indexed by the next ingest). Returns the new version, or None
    when nothing needed repair. Only for a store this process alone writes (an embedded one)."""
    check = check_store(store, store.manifest())
    if not check.needs_repair:
        return None
    logger.warning(
        "repairing the chunk store at start-up: %d stale chunks, unfinished write: %s", len(check.stale), check.dirty
    )
    writer = EditionWriter(store, ids_by_doc=check.ids_by_doc)
    writer.discard(check.stale)
    return writer.finish(embedder=embedder.name, repaired=True)


def _failed_record(
    *, manifest: dict[str, DocRecord], doc_id: str, source: str, path: Path, error: IngestError, root: str
) -> DocRecord | None:
    """A file that fails leaves no chunks behind (an old version must never be quoted) and a failed record
    (None for a missing file that was never ingested: nothing to record)."""
    previous = manifest.get(doc_id)
    if previous is None and not path.exists():
        return None
    return DocRecord(
        doc_id=doc_id,
        source=source,
        title=previous.title if previous else path.stem,
        category=previous.category if previous else "other",
        hash="",
        chunks=0,
        ingested_at=time.time(),
        status="failed",
        error=error.detail_en,
        error_ja=error.detail_ja,
        root=root,
    )
