"""`answer()`: the single road every question travels — API, Slack, CLI and the evaluation harness.

retrieve (lexical + dense, fused) → passages → confidence → compose (extractive, or an LLM when configured)
→ decide answered / escalated → record in the query log (before the caller replies) → result.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
import uuid
from dataclasses import dataclass

import numpy as np

from app.errors import BadRequestError, NotReadyError, QueryLogError
from app.ops.events import question_escalated
from app.reply import (
    TEXTS,
    compose_answer,
    compose_escalation,
    escalation_next_steps,
    lead_sentences,
    scope_note,
    select_sentences,
)
from app.result import AnswerResult, Source
from app.retrieval.adapter import QueryAdapter, load_adapter
from app.retrieval.categories import category_of
from app.retrieval.glossary import Glossary
from app.retrieval.index import Snapshot
from app.retrieval.learned import resolve_model
from app.retrieval.ranking import Passage, Query, RankParams, confidence, group_passages, rank
from app.retrieval.rerank import RerankOutcome, rerank, rerank_z_of
from app.retrieval.scope import question_classes
from app.retrieval.search import Hit, search
from app.retrieval.tokenizer import Tokenizer, is_japanese

logger = logging.getLogger(__name__)


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
    query: Query
    hits: list[Hit]
    passages: list[Passage]
    snapshot: Snapshot
    rerank: RerankOutcome | None = None  # None: no reranker configured (or an ablation mode)

    @property
    def query_tokens(self) -> list[str]:
        return self.query.tokens

    @property
    def concepts(self) -> list[tuple[str, ...]]:
        return self.query.concepts


DEFAULT_PARAMS = RankParams()


def params_for(settings) -> RankParams:
    """The deployment's RankParams: the defaults with the reranker settings (equal to DEFAULT_PARAMS by default)."""
    return dataclasses.replace(
        DEFAULT_PARAMS, rerank_top_n=settings.rerank_top_n, rerank_timeout_ms=settings.rerank_timeout_ms
    )


def analyze(question: str, *, tokenizer: Tokenizer, glossary: Glossary, params: RankParams = DEFAULT_PARAMS) -> Query:
    """The question's tokens plus its glossary expansions (weighted), its concepts (a colloquial word and its formal
    terms count as one idea) and the employee classes the asker states."""
    found = glossary.expansions(question)
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
                weights[t] = params.expansion_weight
                expanded.append(t)
    for t in dict.fromkeys(tokens):
        if t not in in_keys:
            concepts.append((t,))
    return Query(
        text=question,
        tokens=tokens + expanded,
        term_weights=weights,
        concepts=concepts,
        classes=question_classes(question),
        formal=" ".join(f for _, f in found),
    )


def retrieve(
    question: str,
    *,
    services,
    category: str | None = None,
    k: int = 10,
    mode: str = "hybrid",
    params: RankParams | None = None,
    second_stage: bool = True,
    adapter: QueryAdapter | None | str = "served",
) -> Retrieval:
    """First stage over every field, then the learned second stage and the reranker when one is configured (also
    used by `madoguchi eval retrieval`). `mode` lexical | dense restricts the first stage to those fields and skips
    the rest (ablations). `params` default: the deployment's (`params_for(settings)`).
    `adapter`: "served" (the deployment's active version, else the shipped file `params.adapter`), or an explicit
    adapter, or None for the raw question vector (`madoguchi adapt` compares them)."""
    params = params or params_for(services.settings)
    snapshot = services.index.snapshot
    if snapshot is None:
        raise NotReadyError(
            "The index is not loaded yet; try again shortly.",
            "索引を読み込み中です。しばらくしてから再度お試しください。",
        )
    query = analyze(question, tokenizer=services.tokenizer, glossary=services.index.glossary, params=params)
    fields: dict = {}
    if mode in ("hybrid", "lexical"):
        fields["lex"] = snapshot.bm25.scores(query.tokens, query.term_weights)
        fields["head_lex"] = snapshot.head_bm25.scores(query.tokens, query.term_weights)
    if mode in ("hybrid", "dense") and len(snapshot):
        dense_text = f"{question} ({query.formal})" if params.expand_dense and query.formal else question
        # The embedder the snapshot's vectors came from (a background re-embed switches both at once).
        embedder = getattr(snapshot, "encoder", None) or services.embedder
        vector = embedder.encode_query(dense_text).astype(np.float32)
        used = served_adapter(services, params) if adapter == "served" else adapter
        if isinstance(used, QueryAdapter) and used.fits(embedder.name, vector.shape[0]):
            vector = used.apply(vector)
        query.vector = vector
        if services.settings.dense_search == "chroma":
            dense = np.full(len(snapshot), -1.0, dtype=np.float32)
            for cid, sim in services.store.query_dense(query.vector, k=params.depth, category=category):
                row = snapshot.row_of.get(cid)
                if row is not None:
                    dense[row] = sim
            fields["dense"] = dense
        else:
            fields["dense"] = snapshot.vectors @ vector
        fields["head_dense"] = snapshot.head_vectors @ vector
    hits = search(
        snapshot,
        field_scores=fields,
        weights=params.weights,
        mask=snapshot.category_mask(category),
        depth=params.depth,
        rrf_k=params.rrf_k,
    )
    passages = group_passages(hits, params.depth)
    outcome = None
    if mode == "hybrid" and second_stage:
        passages = rank(query, passages, snapshot=snapshot, params=params)
        stage = getattr(services, "reranker", None)
        if stage is not None:
            passages, outcome = rerank(question, passages, stage=stage, params=params)
    return Retrieval(query=query, hits=hits, passages=passages[:k], snapshot=snapshot, rerank=outcome)


def served_adapter(services, params: RankParams = DEFAULT_PARAMS) -> QueryAdapter | None:
    """The query adapter answers use now: the deployment's active version (`madoguchi adapt`) when one fits the
    embedder, else the shipped general adapter named by `params.adapter` ("": none, for ablations)."""
    own = services.adapter.current()
    if own is not None and own.embedder == services.embedder.name:
        return own
    return load_adapter(str(resolve_model(params.adapter))) if params.adapter else None


def confidence_of(r: Retrieval, params: RankParams = DEFAULT_PARAMS, *, calibration=None) -> float:
    """Calibrated probability that the first passage answers the question (app.retrieval.ranking), through the
    deployment's calibration map when `madoguchi calibrate` fitted one (app.ops.calibration)."""
    conf = confidence(r.query, r.passages, snapshot=r.snapshot, params=params)
    return calibration.apply(conf, rerank_z_of(r)) if calibration is not None else conf


def _scope_note(r: Retrieval, *, lang: str) -> str:
    """When the asker states no employee class and the answer comes from the general rules, but another class's
    rules cover the same topic among the candidates, say so (「パートの方には別の規程…」)."""
    if r.query.classes or not r.passages or r.passages[0].top.chunk.scope:
        return ""
    top = r.passages[0].top.chunk
    caption = set(top.caption_tokens)
    for p in r.passages[1:]:
        c = p.top.chunk
        if c.scope and c.doc_id != top.doc_id and caption and len(caption & set(c.caption_tokens)) * 2 >= len(caption):
            return scope_note(list(c.scope), c.title, lang=lang)
    return ""


def _sources(r: Retrieval, *, question: str, limit: int) -> list[Source]:
    out = []
    idf = r.snapshot.bm25.idf_of
    for p in r.passages[:limit]:
        c = p.top.chunk
        snippet = select_sentences(p.text, query=question, query_tokens=r.query_tokens, idf=idf, limit=200)
        out.append(
            Source(
                source=c.source,
                title=c.title,
                section=c.section,
                page=c.page,
                snippet=snippet,
                score=float(p.score),
                url=c.url,
                kind=c.kind,
                doc_id=c.doc_id,
            )
        )
    return out


def answer(
    *,
    question: str,
    services,
    category: str | None = None,
    user_id: str | None = None,
    origin: str = "api",
    meta: dict | None = None,
    threshold: float | None = None,
    record: bool = True,
    params: RankParams | None = None,
) -> AnswerResult:
    """Answer one question and record it (with the origin's `meta`, e.g. Slack coordinates) in the query log before
    returning, so nobody is answered whose question is not in the log. Raises BadRequestError on invalid input,
    NotReadyError before the index loads, QueryLogError when the question could not be recorded."""
    started = time.perf_counter()
    settings = services.settings
    question = validate_question(question, max_chars=settings.max_question_chars)
    category = validate_category(category)
    lang = detect_language(question)
    calibration = getattr(services, "calibration", None)
    if threshold is None:
        threshold = calibration.threshold if calibration is not None else settings.confidence_threshold
    params = params or params_for(settings)
    services.index.raise_if_unavailable()  # shared store down: 503 on the API, handed to the staff on Slack
    r = retrieve(question, services=services, category=category, k=settings.top_k, params=params)
    conf = confidence_of(r, params, calibration=calibration)
    if r.rerank is not None:  # the reranker's outcome (ok / timeout / error) goes to the query log with the question
        meta = {**(meta or {}), "rerank": r.rerank.to_meta()}
    sources = _sources(r, question=question, limit=settings.top_k)
    result = AnswerResult(
        query_id=uuid.uuid4().hex,
        question=question,
        answer="",
        outcome="escalated",
        confidence=conf,
        category=category or (r.passages[0].top.chunk.category if r.passages else None),
        sources=sources,
        language=lang,
        corpus_version=r.snapshot.version,
        origin=origin,
        user_id=user_id,
        follow_up_token=new_follow_up_token(),
    )
    next_steps = escalation_next_steps(
        lang=lang,
        origin=origin,
        query_id=result.query_id,
        business_hours=settings.business_hours,
        urgent_contact=settings.urgent_contact,
    )
    if r.passages and conf >= threshold:
        best = r.passages[0]
        idf = r.snapshot.bm25.idf_of
        quote = select_sentences(best.text, query=question, query_tokens=r.query_tokens, idf=idf)
        lead = lead_sentences(best.text, query=question, query_tokens=r.query_tokens, idf=idf)
        note = _scope_note(r, lang=lang)
        if r.snapshot.stale_citations(best.top.chunk):  # an FAQ entry whose cited article changed: 要確認
            note = "\n".join(n for n in (note, TEXTS[lang]["stale_note"]) if n)
        result.answer = compose_answer(best, quote=quote, lead=lead, lang=lang, note=note)
        result.outcome = "answered"
    else:
        result.answer = compose_escalation(r.passages, lang=lang, next_steps=next_steps)
        result.escalation_reason = "low_confidence"
    if services.generator is not None and r.passages:
        result = services.generator.generate(result=result, retrieval=r, threshold=threshold)
        if result.outcome == "escalated" and next_steps not in result.answer:
            result.answer = compose_escalation(r.passages, lang=lang, next_steps=next_steps)
    if category is None and result.outcome == "escalated":
        # Not answered: the top document may be unrelated, so the question's own words say what it is about.
        result.category = category_of(question) or "other"
    result.latency_ms = (time.perf_counter() - started) * 1000
    if record:
        record_result(services, result, meta=meta)
        if result.outcome == "escalated":
            question_escalated(services, result.query_id)
    return result


def new_follow_up_token() -> str:
    """A random secret for one question: whoever holds it may read the question's status and staff answer."""
    return secrets.token_urlsafe(32)


def record_result(services, result: AnswerResult, *, meta: dict | None = None) -> None:
    """The one recording path, for every origin: the question is written to the query log before anyone replies.

    Failure policy: a failed write is logged with its traceback and raised as QueryLogError (503
    `query_log_unavailable`), so no caller can answer a question the log does not hold — the API returns the error,
    the Slack bot tells the asker something went wrong. Without a configured query log nothing is recorded."""
    if services.query_log is None:
        return
    try:
        services.query_log.record(result, meta=meta)
    except Exception as exc:
        logger.exception("could not write query %s to the query log", result.query_id)
        raise QueryLogError(
            f"The question could not be recorded ({type(exc).__name__}); please try again shortly.",
            "質問を記録できなかったため回答できませんでした。しばらくしてから再度お試しください。",
        ) from exc


def error_result(
    *, question: str, lang: str | None = None, origin: str = "api", user_id: str | None = None
) -> AnswerResult:
    """The reply when answering itself failed: the question still goes to the staff."""
    lang = lang or detect_language(question or "")
    return AnswerResult(
        query_id=uuid.uuid4().hex,
        question=question,
        answer=TEXTS[lang]["error"],
        outcome="escalated",
        confidence=0.0,
        category=None,
        language=lang,
        escalation_reason="error",
        origin=origin,
        user_id=user_id,
        follow_up_token=new_follow_up_token(),
    )
