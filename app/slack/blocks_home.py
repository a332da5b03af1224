"""Block Kit of the App Home tab 「あなたの質問」: the asker's questions with the staff and the staff's answers.

Formatting only, in Japanese and English like `blocks.py` (whose helpers it uses); `SlackBot.publish_home` decides
what is listed and publishes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.slack.blocks import clip, context, escape, mrkdwn, quote

TEXTS = {
    "ja": {
        "title": "あなたの質問",
        "open": "*担当者が対応中の質問*",
        "answered": "*担当者が回答した質問*",
        "none": "担当者に引き継いだ質問はありません。DM やメンションで質問すると、ここに対応状況が表示されます。",
        "asked": "{when} に質問",
        "assignee": "担当: {who}",
        "waiting": "回答をお待ちください。",
    },
    "en": {
        "title": "Your questions",
        "open": "*Questions the staff are working on*",
        "answered": "*Questions the staff answered*",
        "none": "No question of yours is with the staff. Ask in a DM or mention me, and its status shows here.",
        "asked": "asked {when}",
        "assignee": "Handled by {who}",
        "waiting": "Please wait for the staff's answer.",
    },
}


def t(lang: str | None, key: str, **kw: object) -> str:
    text = TEXTS.get(lang or "ja", TEXTS["ja"])[key]
    return text.format(**kw) if kw else text


def home_view(open_questions: Sequence[Any], answered: Sequence[Any], *, lang: str, when: Callable[[Any], str]) -> dict:
    """The App Home tab: the asker's questions with the staff (open) and the staff's recent answers.
    Items are `QueryRecord`s; `when(datetime)` formats a time in the staff's time zone."""
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": t(lang, "title"), "emoji": True}}]
    if not open_questions and not answered:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": t(lang, "none")}})
    if open_questions:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": t(lang, "open")}})
        for r in open_questions:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(quote(r.question, 500))}})
            status = [t(lang, "asked", when=when(r.created_at))]
            status.append(t(lang, "assignee", who=escape(r.assignee)) if r.assignee else t(lang, "waiting"))
            blocks.append(context(" · ".join(status)))
    if answered:
        blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": t(lang, "answered")}})
        for r in answered:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(quote(r.question, 500))}})
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn(r.resolution or ""))}})
            blocks.append(context(t(lang, "asked", when=when(r.created_at))))
    return {"type": "home", "blocks": blocks[:100]}  # Slack takes at most 100 blocks
