"""What the store keeps for a document: its chunk rows (text, embedding, the fields the ranker reads) and its manifest
record. Many documents are embedded in one call (`chunk_rows_many`): a model encodes a batch far faster than a
document's few texts at a time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.ports import EmbedderPort
from app.retrieval.index import encode_head_vector
from app.retrieval.scope import document_classes, scope_article_text
from app.retrieval.tokenizer import Tokenizer
from app.store.chroma import ChunkRows, DocRecord, dumps_tokens
from ingest.categories import normalize_category
from ingest.chunker import ChunkDraft
from ingest.loaders import LoadedDocument
from ingest.structure import caption_of

if TYPE_CHECKING:
    from ingest.pipeline import FileResult


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


# Documents (or chunks) embedded in one call during an ingest: a model encodes a batch far faster than one document's
# few texts at a time, and the memory held is bounded.
EMBED_DOCS = 64
EMBED_CHUNKS = 512

# Bumped when chunks gain fields the ranker reads: documents indexed under an older schema are re-indexed.
INDEX_SCHEMA = 5  # 5: English numbered and labelled headings in PDF and text


@dataclass
class Prepared:
    """A document loaded and chunked, waiting for its embeddings (computed for many documents in one call)."""

    doc_id: str
    source: str
    doc: LoadedDocument
    drafts: list[ChunkDraft]
    doc_hash: str
    category: str
    root: str = ""
    result: FileResult | None = None  # its line in the report (turned into a failure if its rows cannot be built)
    kind: str = "doc"  # doc | faq


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
    item = Prepared(doc_id=doc_id, source=source, doc=doc, drafts=drafts, doc_hash=doc_hash, category=category)
    return chunk_rows_many(embedder=embedder, tokenizer=tokenizer, items=[item])[0]


def chunk_rows_many(*, embedder: EmbedderPort, tokenizer: Tokenizer, items: list[Prepared]) -> list[ChunkRows]:
    """`chunk_rows` of several documents with one encoding call for their chunks and one for their headings: a
    model encodes a batch far faster than the same texts one document at a time."""
    texts = [embed_text(d) for it in items for d in it.drafts]
    vectors = embedder.encode(texts) if texts else None
    heads = list(dict.fromkeys(head_text(d, it.doc.title) for it in items for d in it.drafts))
    head_vectors = dict(zip(heads, embedder.encode(heads))) if heads else {}
    out: list[ChunkRows] = []
    offset = 0
    for it in items:
        n = len(it.drafts)
        mine = vectors[offset : offset + n] if vectors is not None else None
        offset += n
        out.append(_rows(it, tokenizer=tokenizer, vectors=mine, head_vectors=head_vectors))
    return out


def _rows(item: Prepared, *, tokenizer: Tokenizer, vectors, head_vectors: dict) -> ChunkRows:
    doc, drafts, doc_id = item.doc, item.drafts, item.doc_id
    ids = [chunk_id(doc_id, item.doc_hash, d.position) for d in drafts]
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
                "source": item.source,
                "title": doc.title,
                "section": d.section,
                "page": d.page if d.page is not None else -1,
                "category": normalize_category(d.category) or item.category,
                "kind": d.kind,
                "question": d.question or "",
                "url": doc.url or "",
                "doc_hash": item.doc_hash,
                "position": d.position,
                "tokens": dumps_tokens(tokens),
                "head_tokens": dumps_tokens(head_tokens),
                "caption_tokens": dumps_tokens(caption_tokens),
                "head_vec": encode_head_vector(head_vectors[head_text(d, doc.title)]),
                "scope": scope,
            }
        )
    return ChunkRows(ids=ids, documents=[d.text for d in drafts], metadatas=metadatas, embeddings=vectors)


def document_record(
    *,
    embedder: EmbedderPort,
    doc_id: str,
    source: str,
    doc: LoadedDocument,
    rows: ChunkRows,
    doc_hash: str,
    category: str,
    kind: str = "doc",
    root: str = "",
) -> DocRecord:
    return DocRecord(
        doc_id=doc_id,
        source=source,
        title=doc.title,
        category=category,
        hash=doc_hash,
        chunks=len(rows.ids),
        ingested_at=time.time(),
        kind=kind,
        url=doc.url,
        embedder=embedder.name,
        chars=doc.chars,
        schema=INDEX_SCHEMA,
        root=root,
    )
