"""`madoguchi eval retrieval`: ranking quality on a BEIR dataset through the production indexing and retrieval.

Each corpus entry becomes one document, written with the production road (`chunk_document` →
`index_document`): an FAQ entry (title as the question, text as the answer) when it has a title, a plain
document otherwise; its doc id is the corpus `_id`. Queries go through `app.answer.retrieve()`; chunk hits are
mapped back to corpus ids (each document once, at the rank of its best chunk).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.profiles import models_line, rerank_note
from app.settings import Settings
from eval.datasets import BeirDataset, read_beir
from eval.metrics import dedupe_ranking, mean, percentile, ranking_metrics
from eval.workspace import temp_services

logger = logging.getLogger(__name__)

MODES = ("hybrid", "lexical", "dense")


@dataclass
class RetrievalRun:
    summary: dict
    latencies: dict[str, list[float]] = field(default_factory=dict)  # mode -> per-query ms
    per_query: dict[str, dict[str, dict]] = field(default_factory=dict)  # mode -> query id -> metrics + ranking
    meta: dict = field(default_factory=dict)  # dataset name, documents, chunks, k


def index_corpus(dataset: BeirDataset, *, services) -> int:
    """Write every corpus entry through the production indexing code; returns the number of chunks."""
    from ingest.chunker import chunk_document
    from ingest.loaders import Block, FaqRow, LoadedDocument
    from ingest.pipeline import Prepared, index_many
    from ingest.writer import EditionWriter, check_store

    # Embedded and written in groups of documents, as the ingest does.
    writer = EditionWriter(services.store, ids_by_doc=check_store(services.store, services.store.manifest()).ids_by_doc)
    items: list[Prepared] = []
    for doc_id, entry in dataset.corpus.items():
        title, text = entry["title"].strip(), entry["text"].strip()
        if not (title or text):
            continue
        if title:
            doc = LoadedDocument(title=title, faq=[FaqRow(question=title, answer=text or title)])
            kind = "faq"
        else:
            doc = LoadedDocument(title=doc_id, blocks=[Block(text=text)])
            kind = "doc"
        drafts = chunk_document(doc)
        if not drafts:
            continue
        digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
        items.append(
            Prepared(doc_id=doc_id, source=doc_id, doc=doc, drafts=drafts, doc_hash=digest, category="other", kind=kind)
        )
    index_many(items, embedder=services.embedder, tokenizer=services.tokenizer, writer=writer)
    chunks = sum(len(it.drafts) for it in items)
    writer.flush()
    services.store.bump_version(embedder=services.embedder.name)
    services.index.refresh()
    return chunks


def _clear_query_cache(embedder) -> None:
    """Each mode is timed with a cold query-embedding cache, so latencies include embedding the query."""
    cache = getattr(embedder, "_cache", None)
    if cache is not None:
        cache.clear()


def evaluate_mode(dataset: BeirDataset, *, services, k: int, mode: str, params=None) -> tuple[dict, list[float], dict]:
    from app.answer import retrieve

    _clear_query_cache(services.embedder)
    per_query: dict[str, dict] = {}
    latencies: list[float] = []
    for qid, text in dataset.queries.items():
        started = time.perf_counter()
        r = retrieve(text, services=services, k=k, mode=mode, params=params)
        latencies.append((time.perf_counter() - started) * 1000)
        # the answer's order (second stage) first, then the rest of the first stage's candidates
        ranked = dedupe_ranking([p.top.chunk.doc_id for p in r.passages] + [h.chunk.doc_id for h in r.hits])
        m = ranking_metrics(ranked, dataset.qrels[qid], k=k)
        per_query[qid] = {**m, "ranked": ranked[:k]}
    keys = [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}", "hit@1", "hit@5"]
    summary = {key: round(mean([q[key] for q in per_query.values()]), 4) for key in keys}
    summary["queries"] = len(per_query)
    summary["latency_mean_ms"] = round(mean(latencies), 2)
    summary["latency_p95_ms"] = round(percentile(latencies, 95), 2)
    return summary, latencies, per_query


def run_retrieval(
    dataset_dir: Path,
    *,
    settings: Settings,
    k: int = 10,
    ablation: bool = False,
    split: str = "test",
    embedder=None,
    tokenizer=None,
    params=None,
) -> RetrievalRun:
    dataset = read_beir(dataset_dir, split=split)
    with temp_services(settings, embedder=embedder, tokenizer=tokenizer) as services:
        started = time.perf_counter()
        chunks = index_corpus(dataset, services=services)
        logger.info(
            "indexed %d documents (%d chunks) in %.1fs", len(dataset.corpus), chunks, time.perf_counter() - started
        )
        summary, lat, per_query = evaluate_mode(dataset, services=services, k=k, mode="hybrid", params=params)
        reranked = dict(services.reranker.outcomes) if services.reranker is not None else None
        run = RetrievalRun(summary=summary, latencies={"hybrid": lat}, per_query={"hybrid": per_query})
        if ablation:
            run.summary["ablation"] = {}
            for mode in ("lexical", "dense"):
                s, lat, pq = evaluate_mode(dataset, services=services, k=k, mode=mode, params=params)
                run.summary["ablation"][mode] = s
                run.latencies[mode] = lat
                run.per_query[mode] = pq
    run.meta = {
        "dataset": dataset.name or str(dataset_dir),
        "documents": len(dataset.corpus),
        "chunks": chunks,
        "k": k,
        "models": models_line(settings),
        "rerank_outcomes": reranked,
    }
    return run


def format_retrieval(run: RetrievalRun) -> str:
    s = run.summary
    meta = run.meta
    k = meta.get("k", 10)
    keys = [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}", "hit@1", "hit@5", "latency_mean_ms", "latency_p95_ms"]
    rows = [("hybrid", s)] + [(m, v) for m, v in s.get("ablation", {}).items()]
    out = [
        f"dataset {meta.get('dataset', '')}: {meta.get('documents', 0)} documents, {meta.get('chunks', 0)} chunks, {s['queries']} queries",
        f"models: {meta.get('models', '')}" + rerank_note(meta.get("rerank_outcomes")),
    ]
    out.append(f"{'mode':8} " + " ".join(f"{key:>15}" for key in keys))
    for mode, v in rows:
        out.append(
            f"{mode:8} " + " ".join(f"{v[key]:>15.4f}" if "latency" not in key else f"{v[key]:>15.2f}" for key in keys)
        )
    return "\n".join(out)
