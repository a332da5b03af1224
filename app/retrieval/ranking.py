"""Second stage: a learned ranker over field-aware features, and a calibrated confidence.

Candidates from the first stage (app.retrieval.search) are grouped into passages — one per document section
(article, heading, FAQ entry). Each passage gets the features below (per-field scores and ranks, margins to the
best candidate, coverage of the question's concepts by the passage, by its best chunk and by its heading, the
caption named in the question, FAQ or article, employee-class scope). A logistic model trained by `make train`
(eval/train.py) on our own training data (eval/training/) orders them; a second model, calibrated under
cross-validation, gives the probability that the first passage is the right one. Both are JSON files beside this
module (models/), read once; scoring is a few hundred multiplications.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from app.retrieval.learned import LinearModel, load_model, resolve_model
from app.retrieval.search import Hit
from app.retrieval.tokenizer import is_japanese

# (what the question asks, what an answering sentence contains): a number, a count, a deadline, a time, a
# procedure or a permission. Used to pick the sentence that answers, not just the one that shares the most words.
CUES = (
    (
        re.compile(r"いくら|金額|何円|上限|補助|支給額|手当|how much|amount|cost", re.I),
        re.compile(r"[0-9０-９,，]+\s*円|万円|[%％]|割|実費"),
    ),
    (
        re.compile(r"何日|何回|何時間|何か月|何ヶ月|何カ月|何年|何歳|何才|日数|how many|how long|how old", re.I),
        re.compile(r"[0-9０-９一二三四五六七八九十]+\s*(日|回|時間|か月|ヶ月|カ月|年|週|歳|才)"),
    ),
    (
        re.compile(r"いつ|までに|締め?切|期限|何日前|when|deadline|by when", re.I),
        re.compile(r"まで|以内|前日|日前|毎月|翌月|[0-9０-９]+日"),
    ),
    (re.compile(r"何時|時刻|what time", re.I), re.compile(r"[0-9０-９]+\s*[:：時]")),
    (
        re.compile(r"どこ|どうやって|どうすれば|どうしたら|方法|手続|申請|where|how do|how can|how to", re.I),
        re.compile(r"申請|提出|届け?出|フォーム|システム|窓口|所定|連絡|報告|総務|submit|apply|form", re.I),
    ),
    (
        re.compile(
            r"できます|できる|いい[？?]|いいの|いいです|可能|大丈夫|ok|can i|may i|allowed|is it possible", re.I
        ),
        re.compile(r"できる|できない|認め|禁止|ならない|限り|ただし|場合|may|must|not|only", re.I),
    ),
)


@dataclass(frozen=True)
class RankParams:
    """Every knob of retrieval and ranking in one place, so `madoguchi eval` can compare settings without code edits.
    Defaults are neutral choices (equal field weights, the usual RRF constant), not fitted to any evaluation set."""

    depth: int = 30  # candidates taken from each field's ranking
    candidates: int = 20  # passages the second stage scores
    rrf_k: float = 60.0
    field_weights: tuple[tuple[str, float], ...] = (
        ("lex", 1.0),
        ("head_lex", 0.5),
        ("dense", 1.0),
        ("head_dense", 0.5),
    )
    expansion_weight: float = 1.0  # BM25 weight of glossary terms added to the question
    expand_dense: bool = True  # add the glossary's formal terms to the text that is embedded
    ranker: str = "ranker.json"  # model files in app/retrieval/models/ (or absolute paths)
    confidence: str = "confidence.json"
    adapter: str = "adapter.npz"  # query adapter (app.retrieval.adapter); "" or a missing file: none
    # The reranker slot (app.retrieval.rerank; only with MADOGUCHI_RERANKER set): how many ranked passages it
    # scores, how long a question waits for it, and its share of the blended order. 0.7: a prior (a cross-encoder
    # reads question and passage together, the learned ranker only their features), not fitted here.
    rerank_top_n: int = 20
    rerank_timeout_ms: int = 2000
    rerank_weight: float = 0.7

    @property
    def weights(self) -> dict[str, float]:
        return dict(self.field_weights)


@dataclass
class Query:
    """A question as the ranker sees it."""

    text: str
    tokens: list[str]  # content tokens + glossary expansions
    term_weights: dict[str, float]
    concepts: list[tuple[str, ...]]  # each: tokens that count as the same idea
    classes: list[str]  # employee classes the asker states
    formal: str = ""  # the glossary's formal terms for the question's colloquial words
    vector: np.ndarray | None = None


@dataclass
class Passage:
    """One cited unit: the retrieved chunks of a single section (article / heading / FAQ entry)."""

    hits: list[Hit] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    rank_score: float = 0.0  # the ranker's logit

    @property
    def top(self) -> Hit:
        return self.hits[0]

    @property
    def score(self) -> float:
        return self.rank_score or self.hits[0].score

    @property
    def text(self) -> str:
        chunks = sorted((h.chunk for h in self.hits), key=lambda c: c.position)
        # An FAQ entry's wordings are chunks of one section that share the answer: quoted once.
        return "\n".join(dict.fromkeys(c.text for c in chunks))


def group_passages(hits: list[Hit], limit: int) -> list[Passage]:
    """Merge hits of the same document section, keeping the fused order of their best hit."""
    by_key: dict[tuple[str, str], Passage] = {}
    order: list[Passage] = []
    for h in hits:
        key = (h.chunk.doc_id, h.chunk.section)
        p = by_key.get(key)
        if p is None:
            p = by_key[key] = Passage()
            order.append(p)
        p.hits.append(h)
    return order[:limit]


def coverage(terms: set[str] | tuple[str, ...], concepts: list[tuple[str, ...]], idf) -> float:
    """Share of the question's concepts (idf-weighted) that `terms` contain, synonyms included."""
    if not concepts:
        return 0.0
    weights = [max(idf(t) for t in c) for c in concepts]
    total = sum(weights) or 1.0
    return sum(w for c, w in zip(concepts, weights) if any(t in terms for t in c)) / total


RANK_FEATURES = (
    "dense",
    "dense_gap",
    "head_dense",
    "head_dense_gap",
    "lex_rel",
    "head_lex_rel",
    "rank_dense",
    "rank_lex",
    "rank_head_lex",
    "rank_head_dense",
    "rrf",
    "coverage",
    "chunk_coverage",
    "head_coverage",
    "caption_in_query",
    "is_faq",
    "scope_match",
    "scope_other",
    "scope_specific_unstated",
    "doc_support",
    "agree",
    "fused_rank",
    "answer_cue",
    "scope_general_stated",
    "lang_match",
)

CONF_FEATURES = (
    "top_logit",
    "margin",
    "second_gap_doc",
    "top_dense",
    "top_head_dense",
    "top_coverage",
    "top_chunk_coverage",
    "top_head_coverage",
    "top_caption_in_query",
    "unknown_share",
    "n_concepts",
    "top_is_faq",
    "top_agree",
    "top_doc_support",
    "top_lex_rel",
    "top_share",
    "any_coverage",
    "top_answer_cue",
    "top_scope_other",
    "top_lang_match",
)


def _rank_feature(r: int | None, depth: int) -> float:
    return math.log1p(depth if r is None else r)


def passage_features(query: Query, passages: list[Passage], *, snapshot, params: RankParams) -> None:
    """Set `p.features` for every passage (all computed relative to this candidate list)."""
    if not passages:
        return
    idf = snapshot.bm25.idf_of
    best = {
        name: max((h.scores.get(name, 0.0) for p in passages for h in p.hits), default=0.0)
        for name in ("lex", "head_lex", "dense", "head_dense")
    }
    docs: dict[str, int] = {}
    for p in passages[:10]:
        docs[p.top.chunk.doc_id] = docs.get(p.top.chunk.doc_id, 0) + 1
    qtokens = set(query.tokens)
    stated = set(query.classes)
    wants = [answer for asks, answer in CUES if asks.search(query.text)]
    japanese = is_japanese(query.text)
    for n, p in enumerate(passages):
        chunk = p.top.chunk
        f = {name: max(h.scores.get(name, 0.0) for h in p.hits) for name in ("lex", "head_lex", "dense", "head_dense")}
        ranks = {name: min((h.ranks[name] for h in p.hits if name in h.ranks), default=None) for name in f}
        terms: set[str] = set()
        chunk_cov = 0.0
        for h in p.hits:
            terms.update(h.chunk.tokens)
            chunk_cov = max(chunk_cov, coverage(set(h.chunk.tokens), query.concepts, idf))
        head = set(chunk.head_tokens)
        caption = chunk.caption_tokens or chunk.head_tokens
        cap_total = sum(idf(t) for t in caption) or 1.0
        scope = set(chunk.scope)
        p.features = {
            "dense": f["dense"],
            "dense_gap": f["dense"] - best["dense"],
            "head_dense": f["head_dense"],
            "head_dense_gap": f["head_dense"] - best["head_dense"],
            "lex_rel": f["lex"] / best["lex"] if best["lex"] > 0 else 0.0,
            "head_lex_rel": f["head_lex"] / best["head_lex"] if best["head_lex"] > 0 else 0.0,
            "rank_dense": _rank_feature(ranks["dense"], params.depth),
            "rank_lex": _rank_feature(ranks["lex"], params.depth),
            "rank_head_lex": _rank_feature(ranks["head_lex"], params.depth),
            "rank_head_dense": _rank_feature(ranks["head_dense"], params.depth),
            "rrf": max(h.score for h in p.hits) * params.rrf_k,
            "coverage": coverage(terms, query.concepts, idf),
            "chunk_coverage": chunk_cov,
            "head_coverage": coverage(head, query.concepts, idf),
            "caption_in_query": sum(idf(t) for t in caption if t in qtokens) / cap_total if caption else 0.0,
            "is_faq": 1.0 if chunk.kind == "faq" else 0.0,
            "scope_match": 1.0 if stated and scope & stated else 0.0,
            "scope_other": 1.0 if stated and scope and not scope & stated else 0.0,
            "scope_specific_unstated": 1.0 if not stated and scope else 0.0,
            "scope_general_stated": 1.0 if stated and not scope and not stated <= {"正社員"} else 0.0,
            "doc_support": math.log1p(docs.get(chunk.doc_id, 0)),
            "agree": 1.0
            if (ranks["dense"] is not None and ranks["dense"] <= 2 and ranks["lex"] is not None and ranks["lex"] <= 2)
            else 0.0,
            "fused_rank": math.log1p(n),
            "answer_cue": sum(1 for w in wants if w.search(p.text)) / len(wants) if wants else 0.0,
            "lang_match": 1.0 if is_japanese(chunk.text) == japanese else 0.0,
        }


def rank(query: Query, passages: list[Passage], *, snapshot, params: RankParams, model=None) -> list[Passage]:
    """Order the first `params.candidates` passages by the learned ranker (the rest keep their fused order)."""
    head = passages[: params.candidates]
    passage_features(query, head, snapshot=snapshot, params=params)
    if not head:
        return passages
    model = model or load_model(str(resolve_model(params.ranker)))
    scores = model.logits(model.matrix([p.features for p in head]))
    for p, s in zip(head, scores):
        p.rank_score = float(s)
    order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
    return [head[i] for i in order] + passages[params.candidates :]


def confidence_features(query: Query, passages: list[Passage], *, snapshot) -> dict[str, float]:
    """Features of "is the first passage the right one?" for a ranked candidate list."""
    if not passages:
        return {}
    top = passages[0]
    second = passages[1] if len(passages) > 1 else None
    other_doc = next((p for p in passages[1:] if p.top.chunk.doc_id != top.top.chunk.doc_id), None)
    vocab, head_vocab = snapshot.bm25.vocab, snapshot.head_bm25.vocab
    idf = snapshot.bm25.idf_of
    weights = [max(idf(t) for t in c) for c in query.concepts]
    unknown = sum(w for c, w in zip(query.concepts, weights) if not any(t in vocab or t in head_vocab for t in c))
    f = top.features
    return {
        "top_logit": top.rank_score,
        "margin": top.rank_score - (second.rank_score if second else top.rank_score - 5.0),
        "second_gap_doc": top.rank_score - (other_doc.rank_score if other_doc else top.rank_score - 5.0),
        "top_dense": f.get("dense", 0.0),
        "top_head_dense": f.get("head_dense", 0.0),
        "top_coverage": f.get("coverage", 0.0),
        "top_chunk_coverage": f.get("chunk_coverage", 0.0),
        "top_head_coverage": f.get("head_coverage", 0.0),
        "top_caption_in_query": f.get("caption_in_query", 0.0),
        "unknown_share": unknown / (sum(weights) or 1.0),
        "n_concepts": math.log1p(len(query.concepts)),
        "top_is_faq": f.get("is_faq", 0.0),
        "top_agree": f.get("agree", 0.0),
        "top_doc_support": f.get("doc_support", 0.0),
        "top_lex_rel": f.get("lex_rel", 0.0),
        "top_share": _softmax_share(passages),
        "any_coverage": max(p.features.get("coverage", 0.0) for p in passages[:5]),
        "top_answer_cue": f.get("answer_cue", 0.0),
        "top_scope_other": f.get("scope_other", 0.0) + f.get("scope_general_stated", 0.0),
        "top_lang_match": f.get("lang_match", 0.0),
    }


def _softmax_share(passages: list[Passage]) -> float:
    """The first passage's share of the softmax over the ranker's scores: how clearly it wins."""
    scores = np.asarray([p.rank_score for p in passages], dtype=np.float64)
    e = np.exp(scores - scores.max())
    return float(e[0] / e.sum())


def confidence(
    query: Query, passages: list[Passage], *, snapshot, params: RankParams, model: LinearModel | None = None
) -> float:
    """Calibrated probability that the first passage answers the question (0 when there is none)."""
    feats = confidence_features(query, passages, snapshot=snapshot)
    if not feats:
        return 0.0
    model = model or load_model(str(resolve_model(params.confidence)))
    return float(model.probability(model.matrix([feats]))[0])
