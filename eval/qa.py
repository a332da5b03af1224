"""`madoguchi eval qa`: answers and escalations on a golden question set, through the production `answer()`.

The documents are ingested with `Services.ingest` into a temporary store, and every question is asked with
`app.answer.answer(..., record=False, threshold=0.0)`. In `answer()` the sources and the would-be answer are
computed before the threshold is applied, and the outcome is "answered" iff there is a passage and
`confidence >= threshold`; so one pass at threshold 0 gives, for every threshold, both the outcome and what
would have been cited — the sweep is computed offline from that pass. With an LLM generator configured the model
decides the outcome itself, so each question is asked once at the production threshold and the headline metrics
use the outcome it returned; the sweep then describes the extractive confidence only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.profiles import models_line, rerank_note
from app.settings import Settings
from eval.datasets import GoldenItem, read_golden
from eval.metrics import QaItemResult, calibrate, fact_found, mean, percentile, qa_metrics, source_matches, sweep
from eval.workspace import temp_services

logger = logging.getLogger(__name__)

MIN_PRECISION = 0.90  # the calibration rule's precision bar (see eval/RESULTS.md)
MIN_ANSWERED = 5  # a threshold answering fewer questions is no evidence for the rule


@dataclass
class QaRun:
    summary: dict
    items: list[QaItemResult] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def ask_item(item: GoldenItem, *, services, threshold: float, params=None) -> QaItemResult:
    from app.answer import answer, params_for

    generated = services.generator is not None
    res = answer(
        question=item.question,
        services=services,
        threshold=threshold if generated else 0.0,
        record=False,
        origin="eval",
        params=params or params_for(services.settings),
    )
    ranks = [
        i
        for i, s in enumerate(res.sources)
        if source_matches(s.source, s.section, source=item.source, sections=item.sections)
    ]
    found = sum(fact_found(f, res.answer) for f in item.answer_facts) if res.outcome == "answered" else 0
    return QaItemResult(
        id=item.id,
        question=item.question,
        answerable=item.answerable,
        category=item.category,
        confidence=float(res.confidence),
        match_ranks=ranks if item.answerable else [],
        cited=[{"source": s.source, "section": s.section, "score": round(float(s.score), 4)} for s in res.sources],
        facts=len(item.answer_facts),
        facts_found=found,
        latency_ms=res.latency_ms,
        expected_source=item.source,
        expected_section=item.sections,
        answer=res.answer,
        outcome=res.outcome if generated else None,
    )


def failures(items: list[QaItemResult], *, threshold: float) -> list[dict]:
    out = []
    for i in items:
        answered = i.answered(threshold)
        if i.answerable and answered and not i.hit(1):
            reason = "wrong_source"
        elif i.answerable and not answered:
            reason = "escalated"
        elif not i.answerable and answered:
            reason = "answered_unanswerable"
        else:
            continue
        out.append(
            {
                "id": i.id,
                "question": i.question,
                "category": i.category,
                "reason": reason,
                "confidence": round(i.confidence, 4),
                "expected": {"source": i.expected_source, "section": i.expected_section} if i.answerable else None,
                "match_rank": (i.match_ranks[0] + 1) if i.match_ranks else None,
                "cited": i.cited[:3],
            }
        )
    return out


def confidence_auc(items: list[QaItemResult]) -> float | None:
    """ROC AUC of the confidence as a predictor of "the first source is right" (unanswerable: never right)."""
    pos = [i.confidence for i in items if i.answerable and i.hit(1)]
    neg = [i.confidence for i in items if not (i.answerable and i.hit(1))]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


def summarize(items: list[QaItemResult], *, threshold: float) -> dict:
    summary = qa_metrics(items, threshold=threshold)
    summary["questions"] = len(items)
    summary["answerable"] = sum(i.answerable for i in items)
    summary["threshold"] = threshold
    lat = [i.latency_ms for i in items]
    summary["latency_mean_ms"] = round(mean(lat), 2)
    summary["latency_p95_ms"] = round(percentile(lat, 95), 2)
    summary["confidence_auc"] = confidence_auc(items)
    per_category = {}
    for cat in sorted({i.category for i in items}):
        subset = [i for i in items if i.category == cat]
        per_category[cat] = {
            **qa_metrics(subset, threshold=threshold),
            "questions": len(subset),
            "answerable": sum(i.answerable for i in subset),
        }
    summary["per_category"] = per_category
    rows = sweep(items)
    summary["sweep"] = rows
    summary["recommended_threshold"] = calibrate(rows, min_precision=MIN_PRECISION, min_answered=MIN_ANSWERED)
    summary["failures"] = failures(items, threshold=threshold)
    return summary


def run_qa(
    *,
    docs: Path,
    questions: Path,
    settings: Settings,
    threshold: float | None = None,
    embedder=None,
    tokenizer=None,
    params=None,
) -> QaRun:
    golden = read_golden(questions)
    docs = Path(docs)
    if not docs.exists():
        from app.errors import BadRequestError

        raise BadRequestError(f"Documents not found: {docs}", f"文書が見つかりません: {docs}", code="bad_dataset")
    with temp_services(settings, embedder=embedder, tokenizer=tokenizer) as services:
        if threshold is None:  # the server's: the calibration's threshold (MADOGUCHI_CONFIDENCE_THRESHOLD overrides it)
            cal = services.calibration
            threshold = cal.threshold if cal is not None else settings.confidence_threshold
        started = time.perf_counter()
        report = services.ingest(paths=[docs.resolve()])
        ingest_s = time.perf_counter() - started
        results = [ask_item(item, services=services, threshold=threshold, params=params) for item in golden]
        mode = "extractive" if services.generator is None else f"llm:{settings.llm}:{settings.llm_model}"
        chunks = len(services.index.snapshot) if services.index.snapshot is not None else 0
        reranked = dict(services.reranker.outcomes) if services.reranker is not None else None
    failed = [f.doc_id for f in report.files if f.status == "failed"]
    meta = {
        "docs": str(docs),
        "questions_file": str(questions),
        "chunks": chunks,
        "ingest_seconds": round(ingest_s, 2),
        "failed_files": failed,
        "mode": mode,
        "embedder": settings.embedder,
        "models": models_line(settings),
        "rerank_outcomes": reranked,  # how often the reranker ran (ok) or the learned order was kept (timeout, error)
    }
    return QaRun(summary=summarize(results, threshold=threshold), items=results, meta=meta)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


HEADLINE = ("hit@1", "hit@3", "answer_precision", "deflection_rate", "escalation_recall", "facts_recall")


def format_qa(run: QaRun) -> str:
    s = run.summary
    m = run.meta
    out = [
        f"{m['questions_file']}: {s['questions']} questions ({s['answerable']} answerable) over {m['docs']} "
        f"({m['chunks']} chunks, {m['mode']}), threshold {s['threshold']:.2f}",
        f"  models: {m.get('models', '')}" + rerank_note(m.get("rerank_outcomes")),
        "  " + "  ".join(f"{k}={_fmt(s[k])}" for k in HEADLINE),
        f"  latency mean {s['latency_mean_ms']:.1f} ms, p95 {s['latency_p95_ms']:.1f} ms; recommended threshold "
        f"(lowest with answer_precision ≥ {MIN_PRECISION:.2f} there and above, ≥ {MIN_ANSWERED} answered): "
        f"{s['recommended_threshold']}",
        "per category:",
    ]
    for cat, c in s["per_category"].items():
        out.append(f"  {cat:12} n={c['questions']:3}  " + "  ".join(f"{k}={_fmt(c[k])}" for k in HEADLINE))
    out.append("sweep:")
    out.append("  threshold  precision  deflection  escalation_recall  answered")
    for row in s["sweep"]:
        if round(row["threshold"] * 100) % 5 == 0:
            out.append(
                f"  {row['threshold']:9.2f}  {_fmt(row['answer_precision']):>9}  {_fmt(row['deflection_rate']):>10}  "
                f"{_fmt(row['escalation_recall']):>17}  {row['answered']:8}"
            )
    out.append(f"failures at threshold {s['threshold']:.2f} ({len(s['failures'])}):")
    for f in s["failures"]:
        exp = f["expected"]
        want = f" expected {exp['source']} {exp['section']}" if exp else ""
        cited = "; ".join(f"{c['source']} | {c['section']}" for c in f["cited"]) or "(nothing)"
        out.append(
            f"  {f['id']} [{f['reason']}] conf={f['confidence']:.3f}{want}\n      {f['question']}\n      cited: {cited}"
        )
    if m["failed_files"]:
        out.append(f"files that failed to ingest: {', '.join(m['failed_files'])}")
    return "\n".join(out)
