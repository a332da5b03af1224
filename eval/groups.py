"""`madoguchi eval groups FILE`: are the 「未解決の質問」 groups pure? Pairwise precision and recall of the production
grouping (app/ops/unresolved.cluster with key-word agreement) against labeled intents.

FILE: JSON Lines {"id", "intent", "question"} (eval/training/grouping.jsonl is ours). A pair of questions grouped
together is right when both carry the same intent. Precision = right pairs / grouped pairs (a wrong pair means one
staff answer reaching an asker who asked something else); recall = right pairs / same-intent pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

from app.errors import BadRequestError
from app.settings import Settings
from eval.datasets import read_jsonl
from eval.workspace import temp_services

BEFORE_SIMILARITY = 0.6  # the grouping before key-word agreement: average linkage at cosine 0.6


@dataclass
class Labeled:
    id: str
    intent: str
    question: str


def read_labeled(path: Path) -> list[Labeled]:
    out = []
    for n, row in enumerate(read_jsonl(path), 1):
        if not all(k in row for k in ("id", "intent", "question")):
            raise BadRequestError(
                f"{path}: item {n} needs id, intent and question",
                f"{path}: {n} 件目に id, intent, question が必要です",
                code="bad_dataset",
            )
        out.append(Labeled(id=str(row["id"]), intent=str(row["intent"]), question=str(row["question"])))
    return out


def pairwise(labels: dict[str, str], groups: list[list[str]]) -> dict:
    """Pairwise precision / recall / F1 of `groups` (lists of ids) against `labels` (id → intent)."""
    grouped = right = 0
    for g in groups:
        for a, b in combinations(g, 2):
            grouped += 1
            right += labels[a] == labels[b]
    same = sum(1 for a, b in combinations(sorted(labels), 2) if labels[a] == labels[b])
    precision = right / grouped if grouped else None
    recall = right / same if same else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {
        "pairs_grouped": grouped,
        "pairs_right": right,
        "pairs_same_intent": same,
        "pairwise_precision": None if precision is None else round(precision, 4),
        "pairwise_recall": None if recall is None else round(recall, 4),
        "pairwise_f1": None if f1 is None else round(f1, 4),
    }


def measure(services, items: list[Labeled], *, use_agreement: bool = True, similarity: float | None = None) -> dict:
    from app.ops.unresolved import SIMILARITY, agreement_for, cluster
    from app.store.querylog import QueryRecord

    now = datetime.now(UTC)
    records = [
        QueryRecord(
            id=it.id,
            created_at=now - timedelta(minutes=n),
            origin="eval",
            user_id=None,
            question=it.question,
            answer="",
            category=None,
            outcome="escalated",
            escalation_reason="low_confidence",
            confidence=0.0,
            sources=[],
            latency_ms=0.0,
            language="ja",
            prompt_version=None,
            corpus_version=None,
        )
        for n, it in enumerate(items)
    ]
    agree = agreement_for(services).agree if use_agreement else None
    groups = cluster(
        records,
        embedder=services.embedder,
        agree=agree,
        similarity=similarity or SIMILARITY,
    )
    labels = {it.id: it.intent for it in items}
    out = pairwise(labels, [[r.id for r in g.records] for g in groups])
    out["questions"] = len(items)
    out["intents"] = len(set(labels.values()))
    out["groups"] = len(groups)
    out["mixed_groups"] = [
        [r.question for r in g.records] for g in groups if len({labels[r.id] for r in g.records}) > 1
    ]
    return out


def run_groups(path: Path, *, settings: Settings, docs: Path | None = None, embedder=None, tokenizer=None) -> dict:
    items = read_labeled(Path(path))
    with temp_services(settings, embedder=embedder, tokenizer=tokenizer) as services:
        if docs is not None:
            services.ingest(paths=[Path(docs).resolve()])  # the corpus idf weighs the key words, as in production
        summary = measure(services, items)
        baseline = measure(services, items, use_agreement=False, similarity=BEFORE_SIMILARITY)
    summary["similarity_only"] = {k: baseline[k] for k in ("pairwise_precision", "pairwise_recall", "groups")}
    summary["meta"] = {"file": str(path), "docs": str(docs) if docs else None, "embedder": settings.embedder}
    return summary


def format_groups(s: dict) -> str:
    def f(v) -> str:
        return "—" if v is None else f"{v:.3f}"

    b = s["similarity_only"]
    out = [
        f"{s['meta']['file']}: {s['questions']} questions in {s['intents']} intents → {s['groups']} groups "
        f"({s['meta']['embedder']}, docs {s['meta']['docs'] or '—'})",
        f"  pairwise precision {f(s['pairwise_precision'])}  recall {f(s['pairwise_recall'])}  "
        f"F1 {f(s['pairwise_f1'])}  ({s['pairs_right']}/{s['pairs_grouped']} grouped pairs right)",
        f"  similarity only (before: average linkage at {BEFORE_SIMILARITY}): precision {f(b['pairwise_precision'])}  recall {f(b['pairwise_recall'])}  "
        f"groups {b['groups']}",
        f"mixed groups ({len(s['mixed_groups'])}):",
    ]
    out += ["  " + " / ".join(g) for g in s["mixed_groups"]]
    return "\n".join(out)
