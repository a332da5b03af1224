"""The ingest road: discover → (skip unchanged by hash) → load → chunk → embed → upsert → drop old → manifest.

Exactness: chunk ids carry the document's content hash, the new chunks are written before the old ones are
deleted, and the manifest (the record of which hash is current) is written last; a server only serves chunks of
the current hash, so a reader never sees a half-ingested document. Every run that changed anything bumps the
corpus version so other processes reload.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.errors import ConfigError, IngestError
from app.ports import ChunkStorePort, EmbedderPort
from app.retrieval.index import encode_head_vector
from app.retrieval.scope import document_classes, scope_article_text
from app.retrieval.tokenizer import Tokenizer
from app.store.chroma import ChunkRows, DocRecord, dumps_tokens
from app.types import CATEGORY_NAMES
from ingest.chunker import ChunkDraft, chunk_document
from ingest.loaders import SUPPORTED, LoadedDocument, load
from ingest.structure import caption_of

logger = logging.getLogger(__name__)

CATEGORIES = CATEGORY_NAMES
_CATEGORY_ALIASES = {
    "勤怠": "attendance",
    "就業": "attendance",
    "休暇": "attendance",
    "attendance": "attendance",
    "経費": "expense",
    "精算": "expense",
    "出張": "expense",
    "expense": "expense",
    "expenses": "expense",
    "備品": "supplies",
    "消耗品": "supplies",
    "supplies": "supplies",
    "supply": "supplies",
    "その他": "other",
    "other": "other",
}


def normalize_category(value: str | None) -> str | None:
    if not value:
        return None
    value = str(value).strip()
    return _CATEGORY_ALIASES.get(value.lower(), _CATEGORY_ALIASES.get(value))


def category_for(path: str, hint: str | None, patterns: dict[str, str]) -> str:
    """Front matter (`hint`) wins; then the first matching path pattern; else `other`."""
    cat = normalize_category(hint)
    if cat:
        return cat
    for pattern, category in patterns.items():
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(Path(path).name, pattern):
            return normalize_category(category) or "other"
    return "other"


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


def discover(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, doc_id) pairs. A folder's files get ids relative to it; a single file's id is its name."""
    found: list[tuple[Path, str]] = []
    for root in paths:
        root = Path(root)
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                rel = p.relative_to(root)
                if (
                    p.is_file()
                    and p.suffix.lower() in SUPPORTED
                    and not any(part.startswith((".", "~$")) for part in rel.parts)
                ):
                    found.append((p, rel.as_posix()))
        elif root.exists():
            found.append((root, root.name))
        else:
            found.append((root, root.name))  # reported as failed: not found
    return found


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_id(doc_id: str, doc_hash: str, position: int) -> str:
    return f"{doc_id}#{doc_hash[:16]}#{position}"


def embed_text(d: ChunkDraft) -> str:
    if d.kind == "faq":
        return f"{d.question}\n{d.text}" if d.question else d.text
    return f"{d.heading}\n{d.text}"


def head_text(d: ChunkDraft, title: str) -> str:
    """The heading field: an FAQ entry's question; an article's heading with its document's title."""
    if d.kind == "faq":
        return d.question or d.heading
    return d.heading if d.heading == title else f"{d.heading} {title}"


# Bumped when chunks gain fields the ranker reads: documents indexed under an older schema are re-indexed.
INDEX_SCHEMA = 4


def chunk_rows(
    *,
    embedder: EmbedderPort,
    tokenizer: Tokenizer,
    doc_id: str,
    source: str,
    doc: LoadedDocument,
    drafts: list[ChunkDraft],
    doc_hash: str,
    category: str,
) -> ChunkRows:
    """What the store keeps for each chunk: text, embedding and the fields the ranker reads (body and heading tokens,
    the caption's tokens, the heading's embedding, the document's employee-class scope)."""
    ids = [chunk_id(doc_id, doc_hash, d.position) for d in drafts]
    vectors = embedder.encode([embed_text(d) for d in drafts])
    heads = list(dict.fromkeys(head_text(d, doc.title) for d in drafts))
    head_vectors = dict(zip(heads, embedder.encode(heads))) if heads else {}
    scope = ",".join(
        document_classes(doc.title, scope_article_text([(d.heading, d.text) for d in drafts if d.kind == "doc"]))
    )
    metadatas = []
    for d in drafts:
        head = d.section if d.kind == "doc" else (d.question or "")
        tokens = tokenizer.tokens(f"{head}\n{d.text}")
        head_tokens = tokenizer.tokens(head if d.kind == "faq" else d.section)
        caption_tokens = head_tokens if d.kind == "faq" else tokenizer.tokens(caption_of(d.heading))
        metadatas.append(
            {
                "doc_id": doc_id,
                "source": source,
                "title": doc.title,
                "section": d.section,
                "page": d.page if d.page is not None else -1,
                "category": normalize_category(d.category) or category,
                "kind": d.kind,
                "question": d.question or "",
                "url": doc.url or "",
                "doc_hash": doc_hash,
                "position": d.position,
                "tokens": dumps_tokens(tokens),
                "head_tokens": dumps_tokens(head_tokens),
                "caption_tokens": dumps_tokens(caption_tokens),
                "head_vec": encode_head_vector(head_vectors[head_text(d, doc.title)]),
                "scope": scope,
            }
        )
    return ChunkRows(ids=ids, documents=[d.text for d in drafts], metadatas=metadatas, embeddings=vectors)


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
) -> DocRecord:
    """Write one document's chunks and its manifest record; remove its chunks of any older hash."""
    rows = chunk_rows(
        embedder=embedder,
        tokenizer=tokenizer,
        doc_id=doc_id,
        source=source,
        doc=doc,
        drafts=drafts,
        doc_hash=doc_hash,
        category=category,
    )
    ids, vectors, metadatas = rows.ids, rows.embeddings, rows.metadatas
    old = set(store.chunk_ids_of(doc_id))
    if ids and vectors is not None:
        store.add_chunks(ids=ids, embeddings=vectors, documents=[d.text for d in drafts], metadatas=metadatas)
    stale = sorted(old - set(ids))
    record = DocRecord(
        doc_id=doc_id,
        source=source,
        title=doc.title,
        category=category,
        hash=doc_hash,
        chunks=len(ids),
        ingested_at=time.time(),
        kind=kind,
        url=doc.url,
        embedder=embedder.name,
        chars=doc.chars,
        schema=INDEX_SCHEMA,
    )
    store.put_record(record)
    if stale:
        store.delete_chunks(stale)
    return record


def remove_document(*, store: ChunkStorePort, doc_id: str) -> None:
    store.delete_record(doc_id)
    ids = store.chunk_ids_of(doc_id)
    if ids:
        store.delete_chunks(ids)


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
) -> IngestReport:
    """Ingest files and folders. `source_names` maps a doc id to the source path to show (uploads)."""
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
    files = discover(paths)
    seen: set[str] = set()
    changed = False
    iterator = files
    if progress and sys.stderr.isatty() and len(files) > 1:
        from tqdm import tqdm

        iterator = tqdm(files, desc="ingest", unit="file", file=sys.stderr)
    for path, doc_id in iterator:
        seen.add(doc_id)
        source = (source_names or {}).get(doc_id, doc_id)
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
            ):
                report.files.append(FileResult(str(path), doc_id, "unchanged", previous.chunks, previous.chars))
                continue
            doc = load(path)
            drafts = chunk_document(doc)
            if not drafts:
                raise IngestError("No text to index was found.", "取り込める本文が見つかりません。")
            category = category_for(doc_id, doc.category, category_patterns)
            record = index_document(
                store=store,
                embedder=embedder,
                tokenizer=tokenizer,
                doc_id=doc_id,
                source=source,
                doc=doc,
                drafts=drafts,
                doc_hash=digest,
                category=category,
            )
            changed = True
            status = "updated" if previous else "added"
            report.files.append(FileResult(str(path), doc_id, status, record.chunks, record.chars))
        except IngestError as exc:
            logger.warning("ingest failed for %s: %s", path, exc.detail_en)
            report.files.append(FileResult(str(path), doc_id, "failed", error=exc.detail_en, error_ja=exc.detail_ja))
            changed |= _mark_failed(store=store, manifest=manifest, doc_id=doc_id, source=source, path=path, error=exc)
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
            logger.exception("unexpected error while ingesting %s", path)
            err = IngestError(f"Unexpected error: {exc}", f"予期しないエラー: {exc}")
            report.files.append(FileResult(str(path), doc_id, "failed", error=err.detail_en, error_ja=err.detail_ja))
            changed |= _mark_failed(store=store, manifest=manifest, doc_id=doc_id, source=source, path=path, error=err)
    if prune:
        for doc_id, record in manifest.items():
            if doc_id not in seen and record.kind == "doc":
                remove_document(store=store, doc_id=doc_id)
                report.files.append(FileResult(record.source, doc_id, "removed"))
                changed = True
    report.version = (
        store.bump_version(embedder=embedder.name) if changed else int(store.corpus_info().get("version", 0))
    )
    report.seconds = time.perf_counter() - started
    return report


def _mark_failed(
    *, store: ChunkStorePort, manifest: dict[str, DocRecord], doc_id: str, source: str, path: Path, error: IngestError
) -> bool:
    """A file that fails leaves no chunks behind (an old version must never be quoted) and a failed record."""
    previous = manifest.get(doc_id)
    if previous is None and not path.exists():
        return False
    ids = store.chunk_ids_of(doc_id)
    if ids:
        store.delete_chunks(ids)
    store.put_record(
        DocRecord(
            doc_id=doc_id,
            source=source,
            title=previous.title if previous else path.stem,
            category=previous.category if previous else "other",
            hash="",
            chunks=0,
            ingested_at=time.time(),
            status="failed",
            error=error.detail_en,
        )
    )
    return True
