"""`answer()`: the single road every question travels — API, Slack, CLI and the evaluation harness.

retrieve (lexical + dense, fused) → passages → confidence → compose (extractive, or an LLM when configured)
→ decide answered / escalated → record in the query log (before the caller replies) → result.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import asdict, dataclass, field

from app.compose import (
    EXTRACTIVE_VERSION,
    TEXTS,
    Passage,
    compose_answer,
    compose_escalation,
    group_passages,
    select_sentences,
)
from app.errors import BadRequestError, NotReadyError
from app.retrieval.glossary import expansions
from app.retrieval.search import Hit, search
from app.retrieval.tokenizer import is_japanese

logger = logging.getLogger(__name__)

RETRIEVE_DEPTH = 30


@dataclass
class Source:
    source: str
    title: str
    section: str
    page: int | None
    snippet: str
    score: float
    url: str | None = None
    kind: str = "doc"
    doc_id: str = ""


@dataclass
class AnswerResult:
    query_id: str
    question: str
    answer: str
    outcome: str  # answered | escalated
    confidence: float
    category: str | None
    sources: list[Source] = field(default_factory=list)
    language: str = "ja"
    escalation_reason: str | None = None  # low_confidence | user_request | not_helpful | error
    latency_ms: float = 0.0
    prompt_version: str = EXTRACTIVE_VERSION
    corpus_version: int = 0
    channel: str = "api"
    user_id: str | None = None

    def to_api(self) -> dict:
        """The documented `/api/ask` (and `madoguchi ask --json`) shape."""
        return {
            "query_id": self.query_id,
            "question": self.question,
            "answer": self.answer,
            "outcome": self.outcome,
            "confidence": round(self.confidence, 4),
            "category": self.category,
            "sources": [
                {"source": s.source, "title": s.title, "section": s.section, "page": s.page, "snippet": s.snippet,
                 "score": round(s.score, 4), "url": s.url}
                for s in self.sources
            ],
            "language": self.language,
            "escalation_reason": self.escalation_reason,
            "prompt_version": self.prompt_version,
        }

    def to_dict(self) -> dict:
        return asdict(self)


def detect_language(text: str) -> str:
    return "ja" if is_japanese(text) else "en"


def validate_question(question: str, *, max_chars: int) -> str:
    q = (question or "").strip()
    if not q:
        raise BadRequestError("The question is empty.", "質問が空です。質問を入力してください。", code="empty_question")
    if len(q) > max_chars:
        raise BadRequestError(
            f"The question is too long ({len(q)} characters; at most {max_chars}).",
            f"質問が長すぎます（{len(q)}文字。{max_chars}文字以内にしてください）。",
            code="question_too_long",
        )
    return q


def validate_category(category: str | None) -> str | None:
    """A known category (English or 勤怠/経費/備品/その他) normalized, None when blank; 422 otherwise."""
    if not (category or "").strip():
        return None
    from ingest.pipeline import CATEGORIES, normalize_category

    norm = normalize_category(category)
    if norm is None:
        raise BadRequestError(
            f"Unknown category {category!r}; use one of {', '.join(CATEGORIES)}.",
            f"不明なカテゴリ {category!r} です。{', '.join(CATEGORIES)}（勤怠・経費・備品・その他）から選んでください。",
            code="bad_category",
        )
    return norm


@dataclass
class Retrieval:
    hits: list[Hit]
    passages: list[Passage]
    query_tokens: list[str]
    snapshot: object
    concepts: list[tuple[str, ...]] = field(default_factory=list)  # each: tokens that count as the same idea


# Retrieval knobs, set from `madoguchi eval` on the shared dev sets (see eval/RESULTS.md).
EXPANSION_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.7
DENSE_WEIGHT = 1.0
EXPAND_DENSE = True


def query_terms(question: str, tokenizer, found: list[tuple[str, str]]) -> tuple[list[str], dict[str, float], list[tuple[str, ...]]]:
    """Tokens of the question plus its glossary expansions `found` (weighted), and the question's concepts."""
    tokens = tokenizer.tokens(question)
    weights: dict[str, float] = {}
    concepts: list[tuple[str, ...]] = []
    in_keys: set[str] = set()
    expanded: list[str] = []
    for key, formal in found:
        key_tokens = list(tokenizer.term_tokens(key))
        formal_tokens = list(tokenizer.term_tokens(formal))
        in_keys.update(key_tokens)
        concepts.append(tuple(dict.fromkeys(key_tokens + formal_tokens)))
        for t in formal_tokens:
            if t not in tokens and t not in weights:
                weights[t] = EXPANSION_WEIGHT
                expanded.append(t)
    for t in dict.fromkeys(tokens):
        if t not in in_keys:
            concepts.append((t,))
    return tokens + expanded, weights, concepts


def retrieve(question: str, *, services, category: str | None = None, k: int = 10, mode: str = "hybrid") -> Retrieval:
    """Hybrid retrieval over the current snapshot (also used by `madoguchi eval retrieval`)."""
    snapshot = services.index.snapshot
    if snapshot is None:
        raise NotReadyError("The index is not loaded yet; try again shortly.", "索引を読み込み中です。しばらくしてから再度お試しください。")
    found = expansions(question)
    tokens, weights, concepts = query_terms(question, services.tokenizer, found)
    vector = None
    if mode != "lexical" and len(snapshot):
        dense_query = question
        if EXPAND_DENSE and found:
            dense_query = f"{question} ({' '.join(f for _, f in found)})"
        vector = services.embedder.encode_query(dense_query)
    dense_hits = None
    if vector is not None and services.settings.dense_search == "chroma":
        dense_hits = services.store.query_dense(vector, k=RETRIEVE_DEPTH, category=category)
    hits = search(
        snapshot, query_tokens=tokens, query_vector=vector, category=category, k=RETRIEVE_DEPTH,
        mode=mode, depth=RETRIEVE_DEPTH, dense_hits=dense_hits, term_weights=weights,
        lexical_weight=LEXICAL_WEIGHT, dense_weight=DENSE_WEIGHT,
    )
    passages = group_passages(hits, RETRIEVE_DEPTH)
    if mode == "hybrid":
        passages = rerank(passages, concepts=concepts, bm25=snapshot.bm25)
    return Retrieval(hits=hits, passages=passages[:k], query_tokens=tokens, snapshot=snapshot, concepts=concepts)


# Rerank and confidence weights, fitted on the shared dev sets (eval/RESULTS.md, "How the numbers were set").
RERANK_LEXICAL = 0.1
RERANK_COVERAGE = 0.2
CONF_WEIGHTS = {"dense": 4.24, "coverage": 1.92, "margin": 6.33, "bias": -3.18}


def coverage_of(passage: Passage, concepts: list[tuple[str, ...]], bm25) -> float:
    """Share of the question's concepts (idf-weighted) that the passage contains, synonyms included."""
    if not concepts:
        return 0.0
    terms: set[str] = set()
    for h in passage.hits:
        terms.update(h.chunk.tokens)
    weights = [max(bm25.idf_of(t) for t in c) for c in concepts]
    total = sum(weights) or 1.0
    return sum(w for c, w in zip(concepts, weights) if any(t in terms for t in c)) / total


def rerank(passages: list[Passage], *, concepts: list[tuple[str, ...]], bm25) -> list[Passage]:
    """Order fused candidates by a score that keeps magnitudes (RRF keeps only ranks):
    dense cosine + small weights on relative BM25 and concept coverage."""
    if not passages:
        return passages
    best_lexical = max((h.lexical for p in passages for h in p.hits), default=0.0) or 1.0
    for p in passages:
        p.dense = max(h.dense for h in p.hits)
        p.lexical = max(h.lexical for h in p.hits) / best_lexical
        p.coverage = coverage_of(p, concepts, bm25)
        p.rank_score = p.dense + RERANK_LEXICAL * p.lexical + RERANK_COVERAGE * p.coverage
    return sorted(passages, key=lambda p: -p.rank_score)


def confidence_of(r: Retrieval) -> float:
    """A score in [0, 1] that the best passage answers the question: a logistic model of its dense cosine, its
    concept coverage and its margin over the runner-up (a clear winner is more trustworthy than a close call)."""
    if not r.passages:
        return 0.0
    top = r.passages[0]
    margin = top.rank_score - (r.passages[1].rank_score if len(r.passages) > 1 else 0.0)
    w = CONF_WEIGHTS
    z = w["bias"] + w["dense"] * top.dense + w["coverage"] * top.coverage + w["margin"] * margin
    return float(1.0 / (1.0 + math.exp(-z)))


def _sources(r: Retrieval, *, question: str, limit: int) -> list[Source]:
    out = []
    idf = r.snapshot.bm25.idf_of
    for p in r.passages[:limit]:
        c = p.top.chunk
        snippet = select_sentences(p.text, query=question, query_tokens=r.query_tokens, idf=idf, limit=200)
        out.append(
            Source(source=c.source, title=c.title, section=c.section, page=c.page, snippet=snippet, score=float(p.score),
                   url=c.url, kind=c.kind, doc_id=c.doc_id)
        )
    return out


def answer(
    *,
    question: str,
    services,
    category: str | None = None,
    user_id: str | None = None,
    channel: str = "api",
    threshold: float | None = None,
    record: bool = True,
) -> AnswerResult:
    """Answer one question. Raises BadRequestError on invalid input and NotReadyError before the index loads."""
    started = time.perf_counter()
    settings = services.settings
    question = validate_question(question, max_chars=settings.max_question_chars)
    category = validate_category(category)
    lang = detect_language(question)
    threshold = settings.confidence_threshold if threshold is None else threshold
    services.index.raise_if_unavailable()  # shared store down: 503 on the API, handed to the staff on Slack
    r = retrieve(question, services=services, category=category, k=settings.top_k)
    conf = confidence_of(r)
    sources = _sources(r, question=question, limit=settings.top_k)
    result = AnswerResult(
        query_id=uuid.uuid4().hex, question=question, answer="", outcome="escalated", confidence=conf,
        category=category or (r.passages[0].top.chunk.category if r.passages else None), sources=sources,
        language=lang, corpus_version=r.snapshot.version, channel=channel, user_id=user_id,
    )
    if r.passages and conf >= threshold:
        best = r.passages[0]
        quote = select_sentences(best.text, query=question, query_tokens=r.query_tokens, idf=r.snapshot.bm25.idf_of)
        result.answer = compose_answer(best, quote=quote, lang=lang)
        result.outcome = "answered"
    else:
        result.answer = compose_escalation(r.passages, lang=lang)
        result.escalation_reason = "low_confidence"
    if services.generator is not None and r.passages:
        result = services.generator.generate(result=result, retrieval=r, threshold=threshold)
    result.latency_ms = (time.perf_counter() - started) * 1000
    if record:
        record_result(services, result)
    return result


def record_result(services, result: AnswerResult) -> None:
    """Write the question to the query log before anyone replies; a logging failure is logged, never hidden."""
    if services.query_log is None:
        return
    try:
        services.query_log.record(result)
    except Exception:  # noqa: BLE001
        logger.exception("could not write query %s to the query log", result.query_id)
        raise


def error_result(*, question: str, lang: str | None = None, channel: str = "api", user_id: str | None = None) -> AnswerResult:
    """The reply when answering itself failed: the question still goes to the staff."""
    lang = lang or detect_language(question or "")
    return AnswerResult(
        query_id=uuid.uuid4().hex, question=question, answer=TEXTS[lang]["error"], outcome="escalated", confidence=0.0,
        category=None, language=lang, escalation_reason="error", channel=channel, user_id=user_id,
    )
