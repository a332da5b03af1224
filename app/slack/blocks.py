"""Block Kit formatting only: an answer, its sources and buttons; the staff's escalation post; notices.

Every sentence an employee sees is here in Japanese and English (picked by the question's language). Posts meant
for the general-affairs staff are in Japanese. Nothing here calls Slack or decides anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

from app.reply import TEXTS as REPLY_TEXTS

ACTIONS_BLOCK = "madoguchi_feedback"
ACTION_RESOLVED = "madoguchi_resolved"
ACTION_NOT_RESOLVED = "madoguchi_not_resolved"
ACTION_ESCALATE = "madoguchi_escalate"
STAFF_ACTIONS_BLOCK = "madoguchi_staff"
ACTION_ASSIGN = "madoguchi_assign"
ACTION_OPEN_CONSOLE = "madoguchi_open_console"
ASSIGNEE_BLOCK = "madoguchi_assignee"

SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section's text
REPLY_SOURCES = 3
# How app/reply.py opens the citation line of an answer (「出典: …」 / "Source: …").
CITATION_PREFIX = {lang: texts["source"].split("{")[0] for lang, texts in REPLY_TEXTS.items()}

TEXTS = {
    "ja": {
        "resolved": "解決した",
        "not_resolved": "解決しない",
        "escalate": "担当者に聞く",
        "sources": "出典",
        "page": "{page}ページ",
        "faq": "よくある質問",
        "question": "質問",
        "thanks": "✅ 解決済みとして記録しました。ご利用ありがとうございました。",
        "offer": "お役に立てず申し訳ありません。総務部の担当者に引き継ぎましょうか？",
        "escalated_thread": "🙋 総務部の担当者に引き継ぎました。担当者からの回答はこのスレッドでお知らせします。",
        "escalated_dm": "🙋 総務部の担当者に引き継ぎました。担当者からの回答はDMでお知らせします。",
        "already": "🙋 このご質問はすでに担当者に引き継いでいます。回答をお待ちください。",
        "not_asker": "このボタンは質問したご本人だけが使えます。",
        "missing": "この質問の記録が見つからないため、担当者に引き継げませんでした。お手数ですが、もう一度質問してください。",
        "staff_answer": "💬 総務部の担当者（<@{user}>）からの回答です。",
        "staff_answer_console": "💬 総務部の担当者からの回答です。",
        "help_mention": "ご質問をメンションと一緒に書いてください。例: `@窓口 有給休暇は入社後いつから取れますか？`",
        "help_slash": "`/faq 質問` の形でご質問ください。例: `/faq 出張の日当はいくらですか？`",
        "looking": "🔎 社内規程を調べています…",
        "help_dm": "総務（勤怠・経費・備品など）についてのご質問をどうぞ。社内規程から出典つきでお答えします。",
        # When the answer itself could not be posted (a Slack API error), in plain text.
        "error": (
            "申し訳ありません。回答の作成中に問題が発生したため、ご質問を総務部の担当者に引き継ぎます。"
            "担当者から改めてご連絡します。"
        ),
    },
    "en": {
        "resolved": "Solved",
        "not_resolved": "Not solved",
        "escalate": "Ask the staff",
        "sources": "Sources",
        "page": "p. {page}",
        "faq": "FAQ",
        "question": "Question",
        "thanks": "✅ Marked as solved. Thank you for using Madoguchi.",
        "offer": "Sorry this did not help. Shall I pass your question to the general-affairs staff?",
        "escalated_thread": "🙋 Your question has been passed to the general-affairs staff. Their answer will appear in this thread.",
        "escalated_dm": "🙋 Your question has been passed to the general-affairs staff. Their answer will come as a DM.",
        "already": "🙋 Your question has already been passed to the staff. Please wait for their answer.",
        "not_asker": "Only the person who asked can use these buttons.",
        "missing": "This question is no longer in the log, so it could not be passed on. Please ask it again.",
        "staff_answer": "💬 Answer from the general-affairs staff (<@{user}>):",
        "staff_answer_console": "💬 Answer from the general-affairs staff:",
        "help_mention": "Please write your question together with the mention, e.g. `@Madoguchi How many days of paid leave do I get?`",
        "help_slash": "Ask with `/faq your question`, e.g. `/faq What is the daily travel allowance?`",
        "looking": "🔎 Looking it up in the company's regulations…",
        "help_dm": "Ask me about attendance, expenses, supplies and other general-affairs topics; I answer from the company's regulations with sources.",
        "error": (
            "Sorry — something went wrong while preparing the answer, so your question has been passed to the "
            "general-affairs staff. They will get back to you."
        ),
    },
}

REASONS = {
    "low_confidence": "自動回答の確信度が低い",
    "user_request": "質問者が担当者への相談を希望",
    "not_helpful": "自動回答で解決しなかった",
    "error": "回答の作成中にエラー",
}
VIA = {"mention": "チャンネルでのメンション", "dm": "DM", "slash": "/faq コマンド"}
ORIGINS = {"api": "HTTP API", "cli": "コマンドライン（madoguchi ask）"}  # questions asked outside Slack

# What the general-affairs staff read (in Japanese) in the escalation channel.
STAFF = {
    "title": "🙋 担当者への引き継ぎ",
    "summary": "担当者への引き継ぎ: {question}",
    "please": "{mention}次の質問への回答をお願いします。\n*質問*\n{question}",
    "asker": "*質問者*\n{who}",
    "unknown_asker": "（不明）",
    "via": "*経路*\n{where}",
    "reason": "*理由*\n{reason}",
    "language": "*言語*\n{language}",
    "lang_en": "英語",
    "lang_ja": "日本語",
    "attempt": "*ボットの回答*\n{attempt}",
    "sources": "ボットが参照した出典",
    "thread_link": "<{permalink}|質問のスレッドを開く>",
    "how_to_answer": "このスレッドに返信すると、質問者に転送され解決済みとして記録されます（「//」で始まる返信は転送されません）。"
    " 質問ID: `{query_id}`",
    "how_to_answer_api": "このスレッドに返信すると、回答として記録され解決済みになります。質問者は API の状況確認"
    "（GET /api/questions/{{id}}）で受け取ります（「//」で始まる返信は記録されません）。 質問ID: `{query_id}`",
    "assign": "担当する",
    "open_console": "コンソールで開く",
    "assigned": "👤 {who} が担当しています。",
    "console_answered": "✅ コンソールで回答され、質問者に転送しました。\n{answer}",
    "console_answered_api": "✅ コンソールで回答されました（質問者は API の状況確認で受け取ります）。\n{answer}",
}


class AnswerLike(Protocol):
    """What a reply shows: an `AnswerResult`, or a `QueryRecord` when a reply is rebuilt from the log."""

    @property
    def query_id(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def sources(self) -> Sequence[Any]: ...
    @property
    def language(self) -> str: ...


def t(lang: str | None, key: str, **kw: object) -> str:
    text = TEXTS.get(lang or "ja", TEXTS["ja"])[key]
    return text.format(**kw) if kw else text


# --- mrkdwn helpers ---
def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return (text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _bold(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)


def mrkdwn(text: str) -> str:
    """Answer text → mrkdwn: escape it, keep `> ` quote lines as quotes, turn **bold** into *bold*."""
    lines = []
    for line in (text or "").split("\n"):
        if line.startswith(">"):
            lines.append("> " + escape(line[1:].lstrip()))
        else:
            lines.append(_bold(escape(line)))
    return "\n".join(lines)


def quote(text: str, limit: int = 1500) -> str:
    text = (text or "").strip()
    if len(text) > limit:
        text = text[:limit] + "…"
    return "\n".join("> " + escape(line.lstrip("> ").rstrip()) for line in text.split("\n"))


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _safe_url(url: str | None) -> str | None:
    if url and re.match(r"^https?://[^\s|<>]+$", url):
        return url
    return None


def _field(source: Any, name: str) -> Any:
    return source.get(name) if isinstance(source, dict) else getattr(source, name, None)


def source_line(source: Any, lang: str) -> str:
    """`title › section（page）` with the title linked when the document has a URL."""
    title = escape(_field(source, "title") or _field(source, "source") or "")
    url = _safe_url(_field(source, "url"))
    head = f"<{url}|{title}>" if url else f"*{title}*"
    if _field(source, "kind") == "faq":
        head = f"{t(lang, 'faq')}: {head}"
    crumbs = [c for c in (_field(source, "section") or "").split(" > ") if c]
    if crumbs and crumbs[0] == _field(source, "title"):
        crumbs = crumbs[1:]  # sections start with the document title, already shown
    line = " › ".join([head] + [escape(c) for c in crumbs])
    page = _field(source, "page")
    if page:
        line += f"（{t(lang, 'page', page=page)}）" if lang == "ja" else f" ({t(lang, 'page', page=page)})"
    return line


def sources_block(sources: Sequence[Any] | None, lang: str, *, limit: int, label: str | None = None) -> dict | None:
    lines, seen = [], set()
    for s in sources or []:
        line = source_line(s, lang)
        if line in seen:
            continue
        seen.add(line)
        lines.append(f"• {line}")
        if len(lines) >= limit:
            break
    if not lines:
        return None
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(f"*{label or t(lang, 'sources')}*\n" + "\n".join(lines))},
    }


def supporting_sources(sources: Sequence[Any] | None) -> list[Any]:
    """The sources an answer rests on: the first, and the others only when they are of the same document or an FAQ
    entry (which answers the same question) — another document the ranking also found is not listed."""
    found = list(sources or [])
    if not found:
        return []
    first = found[0]
    doc = _field(first, "doc_id") or _field(first, "source")
    return [first] + [
        s for s in found[1:] if (_field(s, "doc_id") or _field(s, "source")) == doc or _field(s, "kind") == "faq"
    ]


def without_citation_line(answer: str, lang: str) -> str:
    """The answer text without its 「出典: …」 line (the last one; a note may follow it): the sources are shown after
    the answer, so 出典 is said once."""
    prefix = CITATION_PREFIX.get(lang, CITATION_PREFIX["en"])
    lines = answer.rstrip().split("\n")
    at = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith(prefix)), None)
    if at is None:
        return answer
    if at > 0 and not lines[at - 1].strip() and (at + 1 == len(lines) or not lines[at + 1].strip()):
        del lines[at - 1]  # the blank line before it goes too, so no two blank lines stay
        at -= 1
    del lines[at]
    return "\n".join(lines).rstrip()


def _button(label: str, action_id: str, value: dict, style: str | None = None) -> dict:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": json.dumps(value, separators=(",", ":")),
    }
    if style:
        b["style"] = style
    return b


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


# --- what the asker sees ---
def answer_message(
    result: AnswerLike, *, asker: str | None, show_question: bool = False, threaded: bool = True
) -> dict:
    """The reply to a question: answer, cited sources, and (when answered) the three buttons."""
    lang = result.language
    blocks: list[dict] = []
    if show_question:
        blocks.append(context(f"*{t(lang, 'question')}:* {escape(result.question)}"))
    answered = result.outcome == "answered"
    cited = supporting_sources(result.sources) if answered else []
    text = without_citation_line(result.answer, lang) if cited else result.answer
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn(text))}})
    if answered:
        if cited:
            lines = list(dict.fromkeys(source_line(c, lang) for c in cited))[:REPLY_SOURCES]
            blocks.append(context(f"{t(lang, 'sources')}: " + "　/　".join(lines)))
        value = {"q": result.query_id, "u": asker}
        blocks.append(
            {
                "type": "actions",
                "block_id": ACTIONS_BLOCK,
                "elements": [
                    _button(t(lang, "resolved"), ACTION_RESOLVED, value, "primary"),
                    _button(t(lang, "not_resolved"), ACTION_NOT_RESOLVED, value),
                    _button(t(lang, "escalate"), ACTION_ESCALATE, {**value, "r": "user_request"}),
                ],
            }
        )
    else:
        blocks.append(context(t(lang, "escalated_thread" if threaded else "escalated_dm")))
    return {"text": clip(mrkdwn(result.answer), 3000), "blocks": blocks}


def without_actions(blocks: list[dict] | None) -> list[dict]:
    return [b for b in (blocks or []) if b.get("block_id") != ACTIONS_BLOCK]


def with_status(blocks: list[dict] | None, text: str) -> list[dict]:
    """The original message with its buttons replaced by a status line."""
    return without_actions(blocks) + [context(text)]


def with_escalation_offer(blocks: list[dict] | None, *, query_id: str, asker: str | None, lang: str) -> list[dict]:
    """After 「解決しない」: the buttons become an offer to pass the question on."""
    value = {"q": query_id, "u": asker, "r": "not_helpful"}
    return without_actions(blocks) + [
        {"type": "section", "text": {"type": "mrkdwn", "text": t(lang, "offer")}},
        {
            "type": "actions",
            "block_id": ACTIONS_BLOCK,
            "elements": [_button(t(lang, "escalate"), ACTION_ESCALATE, value, "primary")],
        },
    ]


def notice(text: str) -> dict:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}]}


def staff_answer(
    text: str,
    *,
    staff_user: str | None,
    lang: str,
    asker: str | None = None,
    question: str | None = None,
    slack_formatted: bool = False,
) -> dict:
    """A staff member's answer relayed to the asker (mentioning them in a channel thread; quoting the question in a DM).

    `slack_formatted`: the text is a Slack message's own mrkdwn (already escaped; links and mentions kept)."""
    head = t(lang, "staff_answer", user=staff_user) if staff_user else t(lang, "staff_answer_console")
    if asker:
        head = f"<@{asker}> {head}"
    out = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    if question:
        out.append(context(f"*{t(lang, 'question')}:* {escape(question)}"))
    body = text if slack_formatted else _bold(escape(text))
    out.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(body)}})
    return {"text": f"{head}\n{body}"[:3000], "blocks": out}


# --- what the staff see ---
def escalation_post(
    *,
    question: str,
    asker: str | None,
    via: str | None,
    channel: str | None,
    reason: str | None,
    attempt: str,
    sources: Sequence[Any],
    language: str,
    permalink: str | None,
    staff_group: str | None,
    query_id: str,
    origin: str = "slack",
    console_url: str | None = None,
) -> dict:
    """The post in the escalation channel: question, asker, the bot's attempt with sources, thread link, and the
    buttons 「担当する」 and (with a console URL) 「コンソールで開く」. `origin`: the channel the question came from
    (questions from the HTTP API are posted too; their asker is an id of the calling system, not a Slack user)."""
    mention = f"<!subteam^{staff_group}> " if staff_group else ""
    from_slack = origin == "slack"
    if from_slack:
        who = f"<@{asker}>" if asker else STAFF["unknown_asker"]
        where = VIA.get(via or "", via or "Slack")
    else:
        who = escape(asker) if asker else STAFF["unknown_asker"]
        where = ORIGINS.get(origin, escape(origin))
    if via == "mention" and channel:
        where += f"（<#{channel}>）"
    fields = [
        {"type": "mrkdwn", "text": STAFF["asker"].format(who=who)},
        {"type": "mrkdwn", "text": STAFF["via"].format(where=where)},
        {"type": "mrkdwn", "text": STAFF["reason"].format(reason=REASONS.get(reason or "", reason or "—"))},
        {
            "type": "mrkdwn",
            "text": STAFF["language"].format(language=STAFF["lang_en" if language == "en" else "lang_ja"]),
        },
    ]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": STAFF["title"], "emoji": True}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(STAFF["please"].format(mention=mention, question=quote(question)))},
        },
        {"type": "section", "fields": fields},
    ]
    if attempt:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": clip(STAFF["attempt"].format(attempt=quote(attempt)))},
            }
        )
    src = sources_block(sources, "ja", limit=5, label=STAFF["sources"])
    if src:
        blocks.append(src)
    if permalink:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": STAFF["thread_link"].format(permalink=permalink)}}
        )
    buttons = [_button(STAFF["assign"], ACTION_ASSIGN, {"q": query_id}, "primary")]
    url = _safe_url(console_url)
    if url:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": STAFF["open_console"], "emoji": True},
                "action_id": ACTION_OPEN_CONSOLE,
                "url": url,
            }
        )
    blocks.append({"type": "actions", "block_id": STAFF_ACTIONS_BLOCK, "elements": buttons})
    how = STAFF["how_to_answer"] if from_slack else STAFF["how_to_answer_api"]
    blocks.append(context(how.format(query_id=query_id)))
    text = clip(mention + STAFF["summary"].format(question=escape(question)), 3000)
    return {"text": text, "blocks": blocks}


def console_answer_note(answer_text: str, *, relayed: bool = True) -> dict:
    """Posted in the escalation thread when the staff answered the question in the web console instead
    (`relayed`: posted to a Slack asker; otherwise the asker fetches it through the API)."""
    key = "console_answered" if relayed else "console_answered_api"
    return notice(STAFF[key].format(answer=quote(answer_text, 1000)))


def with_assignee(blocks: list[dict] | None, *, slack_user: str) -> list[dict]:
    """The staff post with a line saying who handles the question (replacing an earlier one; buttons kept, so
    someone else can take it over)."""
    kept = [b for b in (blocks or []) if b.get("block_id") != ASSIGNEE_BLOCK]
    line = context(STAFF["assigned"].format(who=f"<@{slack_user}>"))
    line["block_id"] = ASSIGNEE_BLOCK
    at = next((i for i, b in enumerate(kept) if b.get("block_id") == STAFF_ACTIONS_BLOCK), len(kept))
    return kept[:at] + [line] + kept[at:]
