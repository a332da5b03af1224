"""Extractive answers: quote the relevant sentences of the best passage and cite it, in the asker's language.

Also holds every fixed user-facing sentence of an answer (Japanese first, English for English questions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.retrieval.search import Hit

EXTRACTIVE_VERSION = "extractive-v1"
QUOTE_CHARS = 320

_UNIT_SPLIT = re.compile(r"\n+|(?<=[。！？])")

TEXTS = {
    "ja": {
        "intro_doc": "{title}の「{heading}」に次のとおり定められています。",
        "intro_faq": "よくある質問「{question}」への回答です。",
        "source": "出典: {section}{page}",
        "page": "（{page}ページ）",
        "escalated": (
            "ご質問ありがとうございます。社内の規程・マニュアルから確かな回答を見つけられなかったため、"
            "総務部の担当者に引き継ぎます。担当者から改めてご連絡しますので、少々お待ちください。"
        ),
        "escalated_hint": "参考までに、関連しそうな箇所: {section}",
        "error": (
            "申し訳ありません。回答の作成中に問題が発生したため、ご質問を総務部の担当者に引き継ぎます。"
            "担当者から改めてご連絡します。"
        ),
    },
    "en": {
        "intro_doc": "{title} — \"{heading}\" says:",
        "intro_faq": "From the FAQ \"{question}\":",
        "source": "Source: {section}{page}",
        "page": " (page {page})",
        "escalated": (
            "Thank you for your question. I could not find a reliable answer in the company's regulations and "
            "manuals, so I am passing it to the general-affairs staff. They will get back to you shortly."
        ),
        "escalated_hint": "Possibly related: {section}",
        "error": (
            "Sorry — something went wrong while preparing the answer, so your question has been passed to the "
            "general-affairs staff. They will get back to you."
        ),
    },
}


@dataclass
class Passage:
    """One cited unit: the chunks of a single section (article / heading / FAQ entry) that were retrieved."""

    hits: list[Hit] = field(default_factory=list)
    # Features set by app.answer.rerank(): best dense cosine, BM25 relative to the best, share of concepts covered.
    dense: float = 0.0
    lexical: float = 0.0
    coverage: float = 0.0
    rank_score: float = 0.0

    @property
    def top(self) -> Hit:
        return self.hits[0]

    @property
    def score(self) -> float:
        return self.rank_score or self.hits[0].score

    @property
    def text(self) -> str:
        chunks = sorted((h.chunk for h in self.hits), key=lambda c: c.position)
        return "\n".join(c.text for c in chunks)


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


def _units(text: str) -> list[str]:
    return [u.strip() for u in _UNIT_SPLIT.split(text) if u and u.strip()]


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\s+", "", text.lower())
    return {text[i : i + 2] for i in range(len(text) - 1)}


def select_sentences(text: str, *, query: str, query_tokens: list[str], idf, limit: int = QUOTE_CHARS) -> str:
    """The sentences / items of `text` most about the question, in their original order, within `limit` chars."""
    if len(text) <= limit:
        return text.strip()
    units = _units(text)
    qgrams = _bigrams(query)
    terms = list(dict.fromkeys(query_tokens))
    scored = []
    for i, u in enumerate(units):
        low = u.lower()
        lexical = sum(idf(t) for t in terms if t.lower() in low)
        overlap = len(qgrams & _bigrams(u)) / (len(qgrams) or 1)
        scored.append((lexical + 2.0 * overlap, i))
    scored.sort(key=lambda s: (-s[0], s[1]))
    chosen: list[int] = []
    used = 0
    for score, i in scored:
        if score <= 0 and chosen:
            break
        if used + len(units[i]) > limit and chosen:
            continue
        chosen.append(i)
        used += len(units[i])
        if used >= limit * 0.6:
            break
    chosen.sort()
    out: list[str] = []
    for j, i in enumerate(chosen):
        if j and i != chosen[j - 1] + 1:
            out.append("…")
        out.append(units[i][:limit])
    return "\n".join(out)


def format_page(page: int | None, lang: str) -> str:
    return TEXTS[lang]["page"].format(page=page) if page else ""


def compose_answer(passage: Passage, *, quote: str, lang: str) -> str:
    t = TEXTS[lang]
    c = passage.top.chunk
    if c.kind == "faq":
        intro = t["intro_faq"].format(question=c.question or c.section)
        return f"{intro}\n\n{quote}"
    heading = c.section.split(" > ")[-1]
    intro = t["intro_doc"].format(title=c.title, heading=heading)
    body = "\n".join(f"> {line}" for line in quote.split("\n"))
    source = t["source"].format(section=c.section, page=format_page(c.page, lang))
    return f"{intro}\n\n{body}\n\n{source}"


def compose_escalation(passages: list[Passage], *, lang: str) -> str:
    t = TEXTS[lang]
    text = t["escalated"]
    if passages:
        text += "\n\n" + t["escalated_hint"].format(section=passages[0].top.chunk.section)
    return text
