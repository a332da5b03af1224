"""Extractive replies, answer first: the one or two sentences that answer (a number, a yes/no with its condition,
a deadline, a place or procedure), then the article excerpt with its 項/号 items and table rows intact, then one
citation. FAQ answers are stated directly, with the matched question as context.

Also holds every fixed user-facing sentence of an answer (Japanese first, English for English questions).
"""

from __future__ import annotations

import functools
import re

from app.retrieval.ranking import CUES, Passage

QUOTE_CHARS = 320

_UNIT_SPLIT = re.compile(r"\n+|(?<=[。！？])")

TEXTS = {
    "ja": {
        "excerpt_doc": "{title}「{heading}」より:",
        "from_faq": "（よくある質問「{question}」より）",
        "scope_note": "※ {classes}の方には別の規程（{title}）が適用されます。",
        "source": "出典: {section}{page}",
        "page": "（{page}ページ）",
        "escalated": (
            "ご質問ありがとうございます。社内の規程・マニュアルから確かな回答を見つけられなかったため、"
            "総務部の担当者に引き継ぎます。"
        ),
        # What happens next, by where the question came from (never a promise the channel cannot keep).
        "next_api": (
            "担当者の回答は、問い合わせ番号 {query_id} の状況確認（GET /api/questions/{query_id}、"
            "受付時の確認用トークンを X-Follow-Up-Token ヘッダーに付けてください）で受け取れます。"
        ),
        "next_hours": "担当者の対応時間は{hours}です。",
        "next_urgent": "お急ぎの場合は{contact}までご連絡ください。",
        "escalated_hint": "参考までに、関連しそうな箇所: {section}",
        "error": (
            "申し訳ありません。回答の作成中に問題が発生したため、ご質問を総務部の担当者に引き継ぎます。"
            "担当者から改めてご連絡します。"
        ),
    },
    "en": {
        "excerpt_doc": 'From {title} — "{heading}":',
        "from_faq": '(From the FAQ "{question}")',
        "scope_note": "Note: for {classes}, a separate regulation ({title}) applies.",
        "source": "Source: {section}{page}",
        "page": " (page {page})",
        "escalated": (
            "Thank you for your question. I could not find a reliable answer in the company's regulations and "
            "manuals, so I am passing it to the general-affairs staff."
        ),
        "next_api": (
            "You can fetch the staff's answer with the status check of inquiry {query_id} "
            "(GET /api/questions/{query_id} with the follow-up token you received in the X-Follow-Up-Token header)."
        ),
        "next_hours": "The staff answer during business hours: {hours}.",
        "next_urgent": "If it is urgent, please contact {contact}.",
        "escalated_hint": "Possibly related: {section}",
        "error": (
            "Sorry — something went wrong while preparing the answer, so your question has been passed to the "
            "general-affairs staff. They will get back to you."
        ),
    },
}


def _units(text: str) -> list[str]:
    return [u.strip() for u in _UNIT_SPLIT.split(text) if u and u.strip()]


@functools.lru_cache(maxsize=65536)
def _bigrams(text: str) -> frozenset[str]:
    text = re.sub(r"\s+", "", text.lower())
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


_ITEM = re.compile(
    r"^\s*(?:[0-9０-９]+[.．、)）]|[（(][0-9０-９一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+\s|[①-⑳]|[・\-*•])"
)
_LEAD_IN = re.compile(r"(次のとおり|次の各号|以下のとおり|次による|次の通り)[^。]*。?$|[：:]$")
_MARKER = re.compile(
    r"^\s*(?:[0-9０-９]+[.．、)）]\s*|[0-9０-９]{1,2}[ 　]+(?=\D)|[（(][0-9０-９一二三四五六七八九十]+[)）]\s*|[①-⑳]\s*|[・\-*•]\s*)"
)


def _scored_units(units: list[str], *, query: str, query_tokens: list[str], idf) -> list[float]:
    qgrams = _bigrams(query)
    terms = list(dict.fromkeys(query_tokens))
    wants = [answer for asks, answer in CUES if asks.search(query)]
    scores = []
    for u in units:
        low = u.lower()
        lexical = sum(idf(t) for t in terms if t.lower() in low)
        overlap = len(qgrams & _bigrams(u)) / (len(qgrams) or 1)
        cue = sum(1.5 for answer in wants if answer.search(u))
        scores.append(lexical + 2.0 * overlap + cue)
    return scores


def lead_sentences(text: str, *, query: str, query_tokens: list[str], idf, limit: int = 160) -> str:
    """The one or two sentences of `text` that answer the question, without their item markers."""
    units = _units(text)
    if not units:
        return ""
    scores = _scored_units(units, query=query, query_tokens=query_tokens, idf=idf)
    best = max(range(len(units)), key=lambda i: (scores[i], -i))
    chosen = [best]
    if _LEAD_IN.search(units[best]) and best + 1 < len(units):
        chosen.append(best + 1)  # 「次のとおりとする。」 says nothing alone: add its first item
    elif (
        best + 1 < len(units)
        and scores[best + 1] >= 0.8 * scores[best]
        and len(units[best]) + len(units[best + 1]) <= limit
    ):
        chosen.append(best + 1)
    out = " ".join(_MARKER.sub("", units[i]).strip() for i in chosen)
    return out if len(out) <= limit * 1.5 else out[: int(limit * 1.5)].rsplit("。", 1)[0] + "。"


def select_sentences(text: str, *, query: str, query_tokens: list[str], idf, limit: int = QUOTE_CHARS) -> str:
    """The sentences / items of `text` most about the question, in their original order, within `limit` chars.
    A sentence that introduces a list (「次のとおりとする。」) keeps its items, a table row keeps the table's header
    row; units are never cut mid-sentence (only a single sentence longer than `limit` is shortened)."""
    if len(text) <= limit:
        return text.strip()
    units = _units(text)
    scores = _scored_units(units, query=query, query_tokens=query_tokens, idf=idf)
    scored = sorted(((sc, i) for i, sc in enumerate(scores)), key=lambda s: (-s[0], s[1]))
    chosen: set[int] = set()
    used = 0

    def take(i: int, budget: float) -> bool:
        nonlocal used
        if i in chosen or i >= len(units):
            return True
        if used + len(units[i]) > budget and chosen:
            return False
        chosen.add(i)
        used += len(units[i])
        return True

    for score, i in scored:
        if score <= 0 and chosen:
            break
        if not take(i, limit):
            continue
        if _LEAD_IN.search(units[i]):  # keep the list it introduces
            j = i + 1
            while j < len(units) and (_ITEM.match(units[j]) or " | " in units[j]) and take(j, limit * 1.3):
                j += 1
        if " | " in units[i]:  # a table row: keep the table's header row
            j = i
            while j > 0 and " | " in units[j - 1]:
                j -= 1
            take(j, limit * 1.3)
        if used >= limit * 0.6:
            break
    order = sorted(chosen)
    out: list[str] = []
    for j, i in enumerate(order):
        if j and i != order[j - 1] + 1:
            out.append("…")
        out.append(units[i] if len(units[i]) <= limit else units[i][:limit].rsplit("、", 1)[0] + "…")
    return "\n".join(out)


def format_page(page: int | None, lang: str) -> str:
    return TEXTS[lang]["page"].format(page=page) if page else ""


def compose_answer(passage: Passage, *, quote: str, lead: str, lang: str, note: str = "") -> str:
    """The reply: `lead` (the sentences that answer), then the excerpt `quote` and one citation (articles), or the
    FAQ's answer followed by the question it answers (FAQ entries)."""
    t = TEXTS[lang]
    c = passage.top.chunk
    tail = f"\n\n{note}" if note else ""
    if c.kind == "faq":
        return f"{passage.text.strip()}\n\n{t['from_faq'].format(question=c.question or c.section)}{tail}"
    heading = c.section.split(" > ")[-1]
    source = t["source"].format(section=c.section, page=format_page(c.page, lang))
    if lead and _compact(lead) == _compact(passage.text):  # the answering sentences are the whole article: once
        return f"{lead}\n\n{source}{tail}"
    body = "\n".join(f"> {line}" for line in quote.split("\n"))
    head = f"{lead}\n\n" if lead else ""
    return f"{head}{t['excerpt_doc'].format(title=c.title, heading=heading)}\n{body}\n\n{source}{tail}"


def scope_note(classes: list[str], title: str, *, lang: str) -> str:
    names = [CLASS_LABELS.get(c, (c, c))[0 if lang == "ja" else 1] for c in classes]
    return TEXTS[lang]["scope_note"].format(classes=("・" if lang == "ja" else ", ").join(names), title=title)


CLASS_LABELS = {  # app.retrieval.scope class → (Japanese, English) wording in replies
    "パート": ("パートタイマー・アルバイト", "part-time staff"),
    "短時間正社員": ("短時間正社員", "short-hours regular employees"),
    "契約社員": ("契約社員", "contract employees"),
    "役員": ("役員", "executives"),
    "正社員": ("正社員", "regular employees"),
}


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", "".join(_MARKER.sub("", line) for line in text.split("\n")))


def escalation_next_steps(
    *, lang: str, origin: str, query_id: str, business_hours: str | None = None, urgent_contact: str | None = None
) -> str:
    """What happens after an escalation, for the asker's channel: where the staff's answer arrives, when staff
    reply, whom to call if urgent. On Slack the reply's blocks say where (this thread, or a DM: app/slack/blocks.py),
    so the text adds only the hours and the contact; every other channel fetches it from the follow-up route."""
    t = TEXTS[lang]
    parts = [] if origin == "slack" else [t["next_api"].format(query_id=query_id)]
    if business_hours:
        parts.append(t["next_hours"].format(hours=business_hours))
    if urgent_contact:
        parts.append(t["next_urgent"].format(contact=urgent_contact))
    return ("" if lang == "ja" else " ").join(parts)


def compose_escalation(passages: list[Passage], *, lang: str, next_steps: str = "") -> str:
    t = TEXTS[lang]
    text = t["escalated"]
    if next_steps:
        text += ("" if lang == "ja" else " ") + next_steps
    if passages:
        text += "\n\n" + t["escalated_hint"].format(section=passages[0].top.chunk.section)
    return text
