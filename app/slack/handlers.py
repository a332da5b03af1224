"""Bolt listeners: translate Slack payloads into `SlackBot` calls. No answering or formatting logic here.

Every listener acknowledges at once (Slack wants an answer within 3 seconds); its lazy listener hands the work
to the bot's worker pool (`SlackBot.submit`), so acks never queue behind slow answers. The same in HTTP mode and
in Socket Mode.
"""

from __future__ import annotations

import logging
import re

from slack_bolt import App

from app.answer import detect_language
from app.slack import blocks
from app.slack.bot import Asked, SlackBot

logger = logging.getLogger(__name__)

HANDLED_SUBTYPES = (None, "thread_broadcast", "file_share")


def _ack(ack) -> None:
    ack()


def _question_text(text: str | None, bot_user_id: str | None) -> str:
    """The question without the bot's mention, with Slack's escaping undone."""
    text = text or ""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    return blocks.unescape(text).strip()


def _from_human(event: dict) -> bool:
    """Other bots (and our own echoes, which Bolt also drops) are never answered."""
    return not event.get("bot_id") and event.get("subtype") in HANDLED_SUBTYPES and bool(event.get("user"))


def _message_key(team: str | None, event: dict) -> str:
    # One key per Slack message: a retry of the same event, or the same message arriving as both `app_mention`
    # and `message`, is handled once.
    return f"slack:msg:{team or ''}:{event.get('channel')}:{event.get('ts')}"


def register(app: App, bot: SlackBot) -> None:
    def on_mention(body: dict, event: dict, context) -> None:
        if not _from_human(event):
            return
        team = body.get("team_id") or context.team_id
        if _staff_reply(bot, team, event):
            return
        root = event.get("thread_ts") or event["ts"]
        bot.ask(
            Asked(
                text=_question_text(event.get("text"), context.bot_user_id),
                user=event["user"],
                team=team,
                channel=event["channel"],
                via="mention",
                event_key=_message_key(team, event),
                message_ts=event["ts"],
                reply_thread_ts=root,
                thread_ts=root,
            )
        )

    def on_message(body: dict, event: dict, context) -> None:
        if not _from_human(event):
            return
        team = body.get("team_id") or context.team_id
        if event.get("channel_type") == "im":
            bot.ask(
                Asked(
                    text=_question_text(event.get("text"), context.bot_user_id),
                    user=event["user"],
                    team=team,
                    channel=event["channel"],
                    via="dm",
                    event_key=_message_key(team, event),
                    message_ts=event["ts"],
                    reply_thread_ts=event.get("thread_ts"),
                    thread_ts=event.get("thread_ts"),
                )
            )
            return
        # In channels the bot answers mentions only (see on_mention); plain messages matter only as staff
        # replies in an escalation thread.
        _staff_reply(bot, team, event)

    def on_command(body: dict, command: dict, respond) -> None:
        team = command.get("team_id") or body.get("team_id")
        bot.ask(
            Asked(
                text=blocks.unescape(command.get("text") or "").strip(),
                user=command["user_id"],
                team=team,
                channel=command["channel_id"],
                via="slash",
                event_key=f"slack:cmd:{command.get('trigger_id')}",
                respond=respond,
            )
        )

    def on_home(event: dict) -> None:
        if event.get("tab") == "home" and event.get("user"):
            bot.publish_home(event["user"])

    def ack_command(ack, command: dict) -> None:
        text = (command.get("text") or "").strip()
        ack(text=blocks.t(detect_language(text), "looking") if text else None)

    def on_button(body: dict, action: dict, respond) -> None:
        bot.on_button(
            action_id=action["action_id"],
            value=action.get("value") or "",
            clicker=body["user"]["id"],
            body=body,
            respond=respond,
        )

    # Lazy listeners (run after the ack) only queue the work; Bolt injects arguments by parameter name.
    def lazy_mention(body, event, context):
        bot.submit(on_mention, body, event, context)

    def lazy_message(body, event, context):
        bot.submit(on_message, body, event, context)

    def lazy_command(body, command, respond):
        bot.submit(on_command, body, command, respond)

    def lazy_button(body, action, respond):
        bot.submit(on_button, body, action, respond)

    def lazy_home(event):
        bot.submit(on_home, event)

    app.event("app_mention")(ack=_ack, lazy=[lazy_mention])
    app.event("message")(ack=_ack, lazy=[lazy_message])
    app.event("app_home_opened")(ack=_ack, lazy=[lazy_home])
    app.command(re.compile(r"^/"))(ack=ack_command, lazy=[lazy_command])
    for action_id in (blocks.ACTION_RESOLVED, blocks.ACTION_NOT_RESOLVED, blocks.ACTION_ESCALATE, blocks.ACTION_ASSIGN):
        app.action(action_id)(ack=_ack, lazy=[lazy_button])
    app.action(blocks.ACTION_OPEN_CONSOLE)(_ack)  # a link button: Slack opens the URL; only the click is acknowledged


def _staff_reply(bot: SlackBot, team: str | None, event: dict) -> bool:
    """True when the message was a reply in an escalation thread (relayed, or deliberately kept)."""
    channel, thread_ts = event.get("channel"), event.get("thread_ts")
    if not channel or not thread_ts or thread_ts == event.get("ts") or channel != bot.settings.slack_escalation_channel:
        return False
    return bot.on_staff_reply(
        channel=channel,
        thread_ts=thread_ts,
        ts=event["ts"],
        user=event["user"],
        text=event.get("text") or "",
        event_key=_message_key(team, event),
    )
