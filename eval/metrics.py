"""Metrics for `madoguchi eval`: ranking metrics (BEIR), golden-QA matching and scoring, latency statistics.

Every function is pure and works on plain lists / dicts, so it can be checked on hand-made cases.

Ranking conventions (the same as trec_eval / BEIR's pytrec_eval):
- relevance is graded; a document is relevant when its grade is > 0;
- nDCG@k uses linear gain: DCG = Σ_i grade_i / log2(i + 1) over ranks i = 1..k, divided by the DCG of the ideal
  ordering of all judged documents;
- recall@k = relevant documents in the top k / all relevant documents; MRR@k = 1 / rank of the first relevant
  document in the top k (0 if none); hit@k = 1 if any relevant document is in the top k.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

# ---------- ranking ----------


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: list[str], qrels: dict[str, float], k: int) -> float:
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    best = dcg(ideal)
    if best <= 0:
        return 0.0
    gains = [max(qrels.get(doc, 0.0), 0.0) for doc in ranked[:k]]
    return dcg(gains) / best


def recall_at_k(ranked: list[str], qrels: dict[str, float], k: int) -> float:
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: list[str], qrels: dict[str, float], k: int) -> float:
    for i, doc in enumerate(ranked[:k]):
        if qrels.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def hit_at_k(ranked: list[str], qrels: dict[str, float], k: int) -> float:
    return 1.0 if any(qrels.get(doc, 0) > 0 for doc in ranked[:k]) else 0.0


def ranking_metrics(ranked: list[str], qrels: dict[str, float], *, k: int = 10) -> dict[str, float]:
    """The per-query metrics `madoguchi eval retrieval` reports (averaged over queries by the caller)."""
    return {
        f"ndcg@{k}": ndcg_at_k(ranked, qrels, k),
        f"recall@{k}": recall_at_k(ranked, qrels, k),
        f"mrr@{k}": mrr_at_k(ranked, qrels, k),
        "hit@1": hit_at_k(ranked, qrels, 1),
        "hit@5": hit_at_k(ranked, qrels, 5),
    }


def dedupe_ranking(doc_ids: list[str]) -> list[str]:
    """Chunk hits → documents: keep each document once, at the rank of its best chunk."""
    return list(dict.fromkeys(doc_ids))


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# ---------- golden QA ----------

_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """NFKC, lower case, no whitespace or punctuation: how facts and sections are compared."""
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text or "").lower())


def source_matches(cited_source: str, cited_section: str, *, source: str | None, sections: list[str]) -> bool:
    """A cited source matches when its path equals `source` (or ends with `/source`) and its section path
    contains one of `sections` (compared after NFKC and case folding, whitespace ignored)."""
    if not source:
        return False
    cited = cited_source.replace("\\", "/").removeprefix("./")
    want = source.replace("\\", "/").removeprefix("./")
    if cited != want and not cited.endswith("/" + want):
        return False
    if not sections:
        return True
    got = _section_key(cited_section)
    return any(_section_key(s) in got for s in sections if s)


def _section_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "").casefold())


FACT_BIGRAM_RECALL = 0.6


def _bigrams(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(len(text) - 1)] if len(text) > 1 else ([text] if text else [])


def fact_found(fact: str, answer: str, *, min_recall: float = FACT_BIGRAM_RECALL) -> bool:
    """A fact is found in an answer when its normalized text is a substring of the normalized answer, or when at
    least `min_recall` of the fact's character bigrams (counted with multiplicity) occur in the answer.

    Facts in the golden sets are paraphrases written by a person, not quotes, so exact matching alone would
    under-count; bigram recall tolerates reworded particles and word order while still needing the numbers and
    key terms of the fact to be present.
    """
    f = normalize(fact)
    a = normalize(answer)
    if not f:
        return True
    if f in a:
        return True
    grams = _bigrams(f)
    have: dict[str, int] = {}
    for g in _bigrams(a):
        have[g] = have.get(g, 0) + 1
    found = 0
    for g in grams:
        if have.get(g, 0) > 0:
            have[g] -= 1
            found += 1
    return found / len(grams) >= min_recall


@dataclass
class QaItemResult:
    """One golden question after asking it through `answer()` (with threshold 0, so the would-be answer is known)."""

    id: str
    question: str
    answerable: bool
    category: str
    confidence: float
    match_ranks: list[int]  # 0-based ranks of cited sources that match the expected source/section
    cited: list[dict] = field(default_factory=list)  # [{source, section, score}]
    facts: int = 0
    facts_found: int = 0
    latency_ms: float = 0.0
    expected_source: str | None = None
    expected_section: list[str] = field(default_factory=list)
    answer: str = ""
    outcome: str | None = None  # set when a generator (LLM) decided the outcome itself

    def answered(self, threshold: float, *, decided: bool = True) -> bool:
        """The decision `answer()` makes: answered iff there is a passage and confidence ≥ threshold — or, in LLM
        mode, what the generator decided at the production threshold (`outcome`), unless `decided=False` (the
        sweep, which describes the extractive confidence rule at every threshold)."""
        if decided and self.outcome is not None:
            return self.outcome == "answered"
        return bool(self.cited) and self.confidence >= threshold

    def hit(self, k: int) -> bool:
        return any(r < k for r in self.match_ranks)


def qa_metrics(items: list[QaItemResult], *, threshold: float, decided: bool = True) -> dict:
    """The headline QA metrics at one confidence threshold (see eval/RESULTS.md for the definitions)."""
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    answered = [i for i in items if i.answered(threshold, decided=decided)]
    correct = [i for i in answered if i.answerable and i.hit(1)]
    facts = sum(i.facts for i in answerable if i.answered(threshold, decided=decided))
    found = sum(i.facts_found for i in answerable if i.answered(threshold, decided=decided))
    return {
        "hit@1": _ratio(sum(i.hit(1) for i in answerable), len(answerable)),
        "hit@3": _ratio(sum(i.hit(3) for i in answerable), len(answerable)),
        "answer_precision": _ratio(len(correct), len(answered)),
        "deflection_rate": _ratio(len(correct), len(answerable)),
        "escalation_recall": _ratio(
            sum(not i.answered(threshold, decided=decided) for i in unanswerable), len(unanswerable)
        ),
        "facts_recall": _ratio(found, facts),
    }


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def sweep(items: list[QaItemResult], *, step: float = 0.01) -> list[dict]:
    """answer_precision / deflection_rate / escalation_recall for thresholds 0, step, …, 1, by the confidence rule
    (in LLM mode too, where the headline metrics use the outcome the generator returned)."""
    rows = []
    n = int(round(1.0 / step))
    for j in range(n + 1):
        t = round(j * step, 4)
        m = qa_metrics(items, threshold=t, decided=False)
        rows.append(
            {
                "threshold": t,
                "answer_precision": m["answer_precision"],
                "deflection_rate": m["deflection_rate"],
                "escalation_recall": m["escalation_recall"],
                "answered": sum(i.answered(t, decided=False) for i in items),
            }
        )
    return rows


def calibrate(rows: list[dict], *, min_precision: float = 0.90, min_answered: int = 5) -> float | None:
    """The calibration rule: the lowest threshold whose answer_precision is ≥ `min_precision` and stays so at every
    higher threshold, so that as many questions as possible are deflected at that precision. Thresholds that answer
    fewer than `min_answered` questions are no evidence either way (one or two answers say nothing about a
    precision) and are skipped. None when no threshold qualifies."""
    ok = None
    for row in reversed(rows):
        p = row["answer_precision"]
        if p is None or row.get("answered", min_answered) < min_answered:
            continue
        if p < min_precision:
            break
        ok = row["threshold"]
    return ok
