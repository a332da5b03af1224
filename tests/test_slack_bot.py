"""The Slack bot end to end over HTTP: signed requests into the real FastAPI app (`POST /slack/events`), Bolt's
listeners, real answering over a real Chroma store and query log, and a real local HTTP server standing in for
Slack's Web API (tests/fakes/slack_api.py) that records every call."""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.slack_api import (
    BOT_ID,
    BOT_USER_ID,
    FakeSlack,
    block_actions,
    event_envelope,
    signed_headers,
    slash_form,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ASKER = "UASKER01"
STAFF = "USTAFF01"
CHANNEL = "C0ASKING"
ESCALATION = "C0STAFF1"
STAFF_GROUP = "S0GENAFF"

LEAVE_MD = """---
title: 休暇規程
category: attendance
url: https://intranet.example.com/rules/leave
---

# 休暇規程

## 第1条（年次有給休暇）

従業員は、入社日から6か月間継続勤務し、所定労働日の8割以上出勤した場合、10日の年次有給休暇を取得できる。

## 第2条（有給休暇の申請）

年次有給休暇を取得するときは、取得日の3営業日前までに勤怠システムで申請し、所属長の承認を得なければならない。

## 第3条（慶弔休暇）

従業員が結婚するときは、5日の特別休暇を取得できる。
"""

OFFICE_MD = """---
title: Office Guide
category: other
---

# Office Guide

## Lost ID card

If you lose your employee ID card, report it to General Affairs on the same day. A replacement card costs 1,000 yen and is issued within three business days.

## Visitor badges

Visitors receive a visitor badge at the reception on the first floor and must return it when they leave.
"""

ANSWERED_JA = "有給休暇の申請はいつまでにすればいいですか？"
ANSWERED_JA_2 = "結婚したら休暇はもらえますか？"
ANSWERED_EN = "How do I replace a lost ID card?"
UNANSWERABLE = "社員食堂のメニューを教えてください"

_ts = itertools.count(1)


def new_ts() -> str:
    return f"1699000000.{next(_ts):06d}"


@pytest.fixture(scope="module")
def manuals(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("slack_manuals")
    (folder / "休暇規程.md").write_text(LEAVE_MD, encoding="utf-8")
    (folder / "office-guide.md").write_text(OFFICE_MD, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def services(tmp_path_factory, manuals, embedder, tokenizer):
    """One real store + query log for the module (every test uses its own channel messages and threads)."""
    from app.services import build_services
    from app.settings import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("slack_data"), docs_dir=manuals)
    svc = build_services(settings, embedder=embedder, tokenizer=tokenizer)
    svc.ingest(paths=[manuals])
    yield svc
    svc.query_log.close()


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


class Harness:
    """Talks to the app the way Slack does: signed events, slash commands and button clicks."""

    def __init__(self, client: TestClient, fake: FakeSlack, services) -> None:
        self.client, self.fake, self.services = client, fake, services

    # --- raw requests ---
    def post(
        self,
        body: str,
        *,
        content_type: str,
        timestamp: int | None = None,
        secret: str = SECRET,
        extra: dict | None = None,
    ):
        headers = signed_headers(secret, body, timestamp=timestamp, content_type=content_type)
        headers.update(extra or {})
        return self.client.post("/slack/events", content=body.encode("utf-8"), headers=headers)

    def event(self, event: dict, *, event_id: str | None = None, retry: int | None = None, **kw):
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return self.post(
            json.dumps(event_envelope(event, event_id=event_id)), content_type="application/json", extra=extra, **kw
        )

    # --- what employees do ---
    def mention(
        self, question: str, *, channel: str = CHANNEL, user: str = ASKER, thread_ts: str | None = None, **kw
    ) -> dict:
        ev = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER_ID}> {question}",
            "ts": new_ts(),
            "channel": channel,
            "event_ts": None,
        }
        if thread_ts:
            ev["thread_ts"] = thread_ts
        ev["event_ts"] = ev["ts"]
        resp = self.event(ev, **kw)
        assert resp.status_code == 200, resp.text
        return ev

    def dm(
        self, text: str, *, user: str = ASKER, channel: str = "D0ASKER1", thread_ts: str | None = None, **extra
    ) -> dict:
        ev = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": new_ts(),
            "channel": channel,
            **extra,
        }
        if thread_ts:
            ev["thread_ts"] = thread_ts
        resp = self.event(ev)
        assert resp.status_code == 200, resp.text
        return ev

    def channel_message(self, text: str, *, channel: str, user: str, thread_ts: str | None = None) -> dict:
        ev = {
            "type": "message",
            "channel_type": "channel",
            "user": user,
            "text": text,
            "ts": new_ts(),
            "channel": channel,
        }
        if thread_ts:
            ev["thread_ts"] = thread_ts
        resp = self.event(ev)
        assert resp.status_code == 200, resp.text
        return ev

    def slash(self, text: str, *, user: str = ASKER, channel: str = CHANNEL, name: str = "cmd"):
        form = slash_form(text=text, user=user, channel=channel, response_url=self.fake.response_url(name))
        return self.post(urllib.parse.urlencode(form), content_type="application/x-www-form-urlencoded")

    def click(
        self,
        message: dict,
        label: str,
        *,
        user: str = ASKER,
        channel: str = CHANNEL,
        name: str = "click",
        ephemeral: bool = False,
    ):
        button = find_button(message["blocks"], label)
        action = {
            "action_id": button["action_id"],
            "block_id": "madoguchi_feedback",
            "value": button["value"],
            "text": button["text"],
        }
        payload = block_actions(
            user=user,
            channel=channel,
            message=message,
            action=action,
            response_url=self.fake.response_url(name),
            ephemeral=ephemeral,
        )
        resp = self.post(
            urllib.parse.urlencode({"payload": json.dumps(payload)}), content_type="application/x-www-form-urlencoded"
        )
        assert resp.status_code == 200, resp.text
        return resp

    def response(self, name: str):
        """The (first) message posted to a response_url."""
        for _ in range(600):
            calls = [c for c in self.fake.calls_to("response_url") if c.path.endswith("/" + name)]
            if calls:
                return calls
            time.sleep(0.05)
        raise AssertionError(f"nothing posted to response_url {name}")

    def reply_to(self, ev: dict) -> dict:
        """The bot's answer in the asker's thread, as Slack would store it (with its ts)."""
        call = self.fake.wait_for("chat.postMessage", channel=ev["channel"], thread_ts=ev.get("thread_ts") or ev["ts"])[
            0
        ]
        return as_message(call)

    def record_of(self, ev: dict):
        for _ in range(200):
            rec = self.services.query_log.find_by_meta("slack_message_ts", ev["ts"])
            if rec is not None and rec.meta.get("slack_reply_ts"):
                return rec
            time.sleep(0.05)
        return self.services.query_log.find_by_meta("slack_message_ts", ev["ts"])


def as_message(call) -> dict:
    return {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": call.args.get("text"),
        "blocks": call.args.get("blocks"),
        "ts": call.args.get("_ts") or "1699999999.000001",
        "thread_ts": call.args.get("thread_ts"),
    }


def find_button(blocks: list[dict], label: str) -> dict:
    for b in blocks:
        for el in b.get("elements", []) if b.get("type") == "actions" else []:
            if el["text"]["text"] == label:
                return el
    raise AssertionError(f"no button {label!r} in {json.dumps(blocks, ensure_ascii=False)}")


def labels(blocks: list[dict]) -> list[str]:
    return [el["text"]["text"] for b in blocks if b.get("type") == "actions" for el in b["elements"]]


def all_text(blocks: list[dict]) -> str:
    out = []
    for b in blocks or []:
        if "text" in b and isinstance(b["text"], dict):
            out.append(b["text"]["text"])
        for f in b.get("fields", []):
            out.append(f["text"])
        for el in b.get("elements", []):
            if isinstance(el.get("text"), str):
                out.append(el["text"])
            elif isinstance(el.get("text"), dict):
                out.append(el["text"]["text"])
    return "\n".join(out)


@pytest.fixture
def slack(fake, services, make_settings):
    """A running app (create_app + lifespan) with Slack mounted; `slack(**settings)` for other settings."""
    from app.main import create_app

    opened = []

    def start(**overrides) -> Harness:
        settings = make_settings(
            slack_bot_token="xoxb-test",
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            **{"slack_escalation_channel": ESCALATION, "slack_staff_group": STAFF_GROUP, **overrides},
        )
        client = TestClient(create_app(settings, services=services))
        client.__enter__()
        opened.append(client)
        return Harness(client, fake, services)

    yield start
    for client in opened:
        client.__exit__(None, None, None)


# ---------------------------------------------------------------- asking


def test_mention_gets_threaded_answer_with_sources_and_buttons(slack):
    h = slack()
    ev = h.mention(ANSWERED_JA)
    call = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
    text = all_text(call.args["blocks"])
    assert "3営業日前" in text
    assert "<https://intranet.example.com/rules/leave|休暇規程>" in text
    assert "第2条（有給休暇の申請）" in text
    assert labels(call.args["blocks"]) == ["解決した", "解決しない", "担当者に聞く"]
    rec = h.record_of(ev)
    assert rec.origin == "slack" and rec.outcome == "answered" and rec.user_id == ASKER
    assert rec.meta["slack_channel"] == CHANNEL and rec.meta["slack_thread_ts"] == ev["ts"]
    assert rec.meta["slack_via"] == "mention" and rec.meta["slack_team"] == "T0001"
    # The Web API was called with the bot token, and nothing was posted to the staff.
    assert call.headers.get("Authorization") == "Bearer xoxb-test"
    assert not h.fake.calls_to("chat.postMessage", channel=ESCALATION)


def test_mention_inside_a_thread_answers_in_that_thread(slack):
    h = slack()
    root = new_ts()
    ev = h.mention(ANSWERED_JA_2, thread_ts=root)
    call = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=root)[0]
    assert "5日の特別休暇" in all_text(call.args["blocks"])
    assert h.record_of(ev).meta["slack_thread_ts"] == root


def test_dm_is_answered_in_the_dm_and_a_thread_follow_up_in_the_thread(slack):
    h = slack()
    ev = h.dm(ANSWERED_JA)
    first = h.fake.wait_for("chat.postMessage", channel="D0ASKER1")[0]
    assert "thread_ts" not in first.args or first.args["thread_ts"] is None
    assert "3営業日前" in all_text(first.args["blocks"])
    assert h.record_of(ev).meta["slack_via"] == "dm"
    follow = h.dm(ANSWERED_JA_2, thread_ts=ev["ts"])
    second = h.fake.wait_for("chat.postMessage", channel="D0ASKER1", thread_ts=ev["ts"])[0]
    assert "5日の特別休暇" in all_text(second.args["blocks"])
    assert h.record_of(follow).question == ANSWERED_JA_2


def test_english_question_gets_english_buttons(slack):
    h = slack()
    h.dm(ANSWERED_EN, channel="D0ENGLISH")
    call = h.fake.wait_for("chat.postMessage", channel="D0ENGLISH")[0]
    assert labels(call.args["blocks"]) == ["Solved", "Not solved", "Ask the staff"]
    assert "1,000 yen" in all_text(call.args["blocks"])
    assert "*Office Guide* › Lost ID card" in all_text(call.args["blocks"])


def test_own_and_other_bots_messages_and_plain_channel_chatter_are_ignored(slack):
    h = slack()
    h.dm(ANSWERED_JA, user=BOT_USER_ID, channel="D0SELF01")  # our own echo
    h.dm(ANSWERED_JA, channel="D0OTHERB", bot_id="B0OTHER1", subtype="bot_message")  # another bot
    h.channel_message(ANSWERED_JA, channel=CHANNEL, user=ASKER)  # no mention: not addressed to the bot
    h.fake.quiet(1.5)
    posted = h.fake.calls_to("chat.postMessage")
    assert posted == [], [c.args for c in posted]


def test_empty_mention_gets_usage_help(slack):
    h = slack()
    ev = h.mention("")
    call = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
    assert "メンションと一緒に" in call.args["text"]


# ---------------------------------------------------------------- slash command


def test_slash_command_is_ephemeral_by_default(slack):
    h = slack()
    resp = h.slash(ANSWERED_JA, name="slash1")
    assert resp.status_code == 200
    assert "調べています" in resp.text  # the 3-second acknowledgement (shown to the asker only)
    call = h.response("slash1")[0]
    assert call.args["response_type"] == "ephemeral"
    assert ANSWERED_JA in all_text(call.args["blocks"])  # the question is quoted above the answer
    assert "3営業日前" in all_text(call.args["blocks"])
    assert labels(call.args["blocks"]) == ["解決した", "解決しない", "担当者に聞く"]
    assert not h.fake.calls_to("chat.postMessage", channel=CHANNEL)


def test_slash_command_posts_publicly_when_configured(slack):
    h = slack(slack_slash_public=True)
    h.slash(ANSWERED_JA_2, channel="C0PUBLIC", name="slash2")
    call = h.fake.wait_for("chat.postMessage", channel="C0PUBLIC")[0]
    assert "5日の特別休暇" in all_text(call.args["blocks"])
    h.fake.quiet(0.5)
    assert not [c for c in h.fake.calls_to("response_url") if c.path.endswith("/slash2")]


# ---------------------------------------------------------------- buttons


def _answered(h: Harness, question: str = ANSWERED_JA) -> tuple[dict, dict]:
    ev = h.mention(question)
    call = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
    message = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": call.args["text"],
        "blocks": call.args["blocks"],
        "ts": h.record_of(ev).meta["slack_reply_ts"],
        "thread_ts": ev["ts"],
    }
    return ev, message


def test_button_solved_records_helpful_and_replaces_buttons(slack):
    h = slack()
    ev, message = _answered(h)
    h.click(message, "解決した", name="solved")
    update = h.response("solved")[0]
    assert update.args["replace_original"] is True
    assert labels(update.args["blocks"]) == []
    assert "解決済み" in all_text(update.args["blocks"]) and "3営業日前" in all_text(update.args["blocks"])
    assert h.services.query_log.find_by_meta("slack_message_ts", ev["ts"]).helpful is True


def test_button_not_solved_offers_escalation_which_escalates_as_not_helpful(slack):
    h = slack()
    ev, message = _answered(h)
    h.click(message, "解決しない", name="notsolved")
    offer = h.response("notsolved")[0]
    assert labels(offer.args["blocks"]) == ["担当者に聞く"]
    assert "引き継ぎましょうか" in all_text(offer.args["blocks"])
    rec = h.services.query_log.find_by_meta("slack_message_ts", ev["ts"])
    assert rec.helpful is False and rec.outcome == "answered"
    h.click({**message, "blocks": offer.args["blocks"]}, "担当者に聞く", name="offer-escalate")
    done = h.response("offer-escalate")[0]
    assert "担当者に引き継ぎました" in all_text(done.args["blocks"])
    post = h.fake.wait_for("chat.postMessage", channel=ESCALATION)[0]
    assert "自動回答で解決しなかった" in all_text(post.args["blocks"])
    rec = h.services.query_log.get(rec.id)
    assert rec.outcome == "escalated" and rec.escalation_reason == "not_helpful"


def test_button_ask_staff_escalates_once_with_a_full_staff_post(slack):
    h = slack()
    ev, message = _answered(h)
    h.click(message, "担当者に聞く", name="ask")
    done = h.response("ask")[0]
    assert "担当者に引き継ぎました" in all_text(done.args["blocks"]) and labels(done.args["blocks"]) == []
    post = h.fake.wait_for("chat.postMessage", channel=ESCALATION)[0]
    text = all_text(post.args["blocks"])
    assert f"<!subteam^{STAFF_GROUP}>" in text
    assert ANSWERED_JA in text and f"<@{ASKER}>" in text
    assert "質問者が担当者への相談を希望" in text
    assert "3営業日前" in text  # the bot's attempt
    assert "<https://intranet.example.com/rules/leave|休暇規程>" in text  # … with its sources
    permalink = h.fake.wait_for("chat.getPermalink")[0]
    assert permalink.args["channel"] == CHANNEL and permalink.args["message_ts"] == ev["ts"]
    assert f"archives/{CHANNEL}/p{ev['ts'].replace('.', '')}" in text
    rec = h.services.query_log.find_by_meta("slack_message_ts", ev["ts"])
    assert rec.outcome == "escalated" and rec.escalation_reason == "user_request"
    assert rec.meta["slack_escalation_channel"] == ESCALATION and rec.meta["slack_escalation_ts"]
    # A second click does not post to the staff again.
    h.click(message, "担当者に聞く", name="ask-again")
    again = h.response("ask-again")[0]
    assert "すでに担当者に引き継いで" in all_text(again.args["blocks"])
    h.fake.quiet(0.5)
    assert len(h.fake.calls_to("chat.postMessage", channel=ESCALATION)) == 1


def test_only_the_asker_can_use_the_buttons(slack):
    h = slack()
    ev, message = _answered(h)
    h.click(message, "解決した", user="UOTHER01", name="other")
    reply = h.response("other")[0]
    assert reply.args["response_type"] == "ephemeral" and reply.args["replace_original"] is False
    assert "ご本人だけ" in reply.args["text"]
    assert h.services.query_log.find_by_meta("slack_message_ts", ev["ts"]).helpful is None


def test_buttons_on_an_ephemeral_slash_answer(slack):
    h = slack()
    h.slash(ANSWERED_JA, name="slash-eph")
    answer_msg = h.response("slash-eph")[0]
    message = {"blocks": answer_msg.args["blocks"], "text": answer_msg.args["text"]}
    h.click(message, "解決した", ephemeral=True, name="eph-solved")
    update = h.response("eph-solved")[0]
    # Ephemeral clicks carry no message: the answer is rebuilt from the log, buttons replaced.
    assert "3営業日前" in all_text(update.args["blocks"]) and "解決済み" in all_text(update.args["blocks"])
    assert labels(update.args["blocks"]) == []


# ---------------------------------------------------------------- escalation and the staff's answer


def test_low_confidence_is_escalated_automatically(slack):
    h = slack()
    ev = h.mention(UNANSWERABLE)
    reply = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
    assert "担当者に引き継ぎます" in reply.args["text"]
    assert labels(reply.args["blocks"]) == []
    post = h.fake.wait_for("chat.postMessage", channel=ESCALATION)[0]
    text = all_text(post.args["blocks"])
    assert UNANSWERABLE in text and "確信度が低い" in text and f"<!subteam^{STAFF_GROUP}>" in text
    rec = h.record_of(ev)
    assert rec.outcome == "escalated" and rec.escalation_reason == "low_confidence"


def test_staff_reply_in_escalation_thread_is_relayed_and_resolves(slack):
    h = slack()
    ev = h.mention(UNANSWERABLE)
    post = h.fake.wait_for("chat.postMessage", channel=ESCALATION)[0]
    rec = h.record_of(ev)
    for _ in range(100):
        rec = h.services.query_log.get(rec.id)
        if rec.meta.get("slack_escalation_ts"):
            break
        time.sleep(0.05)
    esc_ts = rec.meta["slack_escalation_ts"]
    assert post.args["channel"] == ESCALATION
    # A staff-only note ("//") stays in the staff channel.
    h.channel_message("// 誰か食堂の担当わかる？", channel=ESCALATION, user=STAFF, thread_ts=esc_ts)
    staff = h.channel_message(
        "本日のメニューはポータルの「食堂」ページにあります &amp; 毎朝更新されます。",
        channel=ESCALATION,
        user=STAFF,
        thread_ts=esc_ts,
    )
    relayed = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"], count=2)[1]
    text = all_text(relayed.args["blocks"])
    assert "ポータルの「食堂」ページ" in text and f"<@{STAFF}>" in text and f"<@{ASKER}>" in text
    assert "誰か食堂" not in json.dumps(
        [c.args for c in h.fake.calls_to("chat.postMessage", channel=CHANNEL)], ensure_ascii=False
    )
    reaction = h.fake.wait_for("reactions.add")[0]
    assert reaction.args["timestamp"] == staff["ts"]
    rec = h.services.query_log.get(rec.id)
    assert rec.resolved and rec.resolved_by == f"slack:{STAFF}"
    assert rec.resolution == "本日のメニューはポータルの「食堂」ページにあります & 毎朝更新されます。"


def test_console_resolution_hook_relays_to_the_slack_thread(slack):
    h = slack()
    ev = h.mention(UNANSWERABLE)
    h.fake.wait_for("chat.postMessage", channel=ESCALATION)
    rec = h.record_of(ev)
    hooks = h.services.resolution_hooks
    assert any(getattr(hook, "__name__", "") == "resolution_hook" for hook in hooks)
    rec = h.services.query_log.resolve(rec.id, answer="メニューは社内ポータルに掲載しています。", by="console")
    for hook in list(hooks):
        hook(rec, "メニューは社内ポータルに掲載しています。")
    relayed = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"], count=2)[1]
    assert "社内ポータルに掲載" in all_text(relayed.args["blocks"])


def test_replica_with_only_a_bot_token_relays_console_answers(slack, fake, services, make_settings):
    """An API replica behind a load balancer (no events endpoint, Socket Mode on a separate worker) still delivers a
    staff answer given in its console to the Slack asker."""
    from app.main import create_app

    h = slack()
    ev = h.mention(UNANSWERABLE)
    h.fake.wait_for("chat.postMessage", channel=ESCALATION)
    rec = h.record_of(ev)
    settings = make_settings(slack_bot_token="xoxb-test", slack_api_url=fake.api_url)
    replica = create_app(settings, services=services)
    with TestClient(replica) as client:
        assert client.post("/slack/events", content=b"{}").status_code == 404  # no signing secret: no endpoint
        hook = replica.state.slack_bot.resolution_hook
        assert hook in services.resolution_hooks
        rec = services.query_log.resolve(rec.id, answer="メニューは社内ポータルにあります。", by="console")
        assert hook(rec, "メニューは社内ポータルにあります。") is True
    relayed = fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"], count=2)[1]
    assert "社内ポータルにあります" in all_text(relayed.args["blocks"])


def test_staff_answer_to_a_private_slash_question_comes_as_a_dm(slack):
    h = slack()
    h.slash(UNANSWERABLE, user="USLASH01", name="slash-esc")
    h.response("slash-esc")
    h.fake.wait_for("chat.postMessage", channel=ESCALATION)
    rec = None
    for _ in range(100):
        rec = h.services.query_log.find_by_meta("slack_user", "USLASH01")
        if rec is not None and rec.meta.get("slack_escalation_ts"):
            break
        time.sleep(0.05)
    h.channel_message(
        "食堂のメニューはポータルにあります。",
        channel=ESCALATION,
        user=STAFF,
        thread_ts=rec.meta["slack_escalation_ts"],
    )
    dm = h.fake.wait_for("chat.postMessage", channel="USLASH01")[0]
    assert "食堂のメニューはポータル" in all_text(dm.args["blocks"]) and UNANSWERABLE in all_text(dm.args["blocks"])


# ---------------------------------------------------------------- never silent, never twice


def test_retried_event_is_answered_once(slack):
    h = slack()
    ev = {
        "type": "app_mention",
        "user": ASKER,
        "text": f"<@{BOT_USER_ID}> {ANSWERED_JA}",
        "ts": new_ts(),
        "channel": CHANNEL,
    }
    first = h.event(ev, event_id="Ev0RETRY1")
    retried = h.event(ev, event_id="Ev0RETRY1", retry=1)
    assert first.status_code == 200 and retried.status_code == 200
    h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])
    h.fake.quiet(1.5)
    assert len(h.fake.calls_to("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])) == 1


def test_bad_signature_is_rejected(slack):
    h = slack()
    body = json.dumps(
        event_envelope({"type": "app_mention", "user": ASKER, "text": "hi", "ts": new_ts(), "channel": CHANNEL})
    )
    resp = h.post(body, content_type="application/json", secret="not-the-secret")
    assert resp.status_code == 401
    unsigned = h.client.post("/slack/events", content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    h.fake.quiet(0.5)
    assert h.fake.calls_to("chat.postMessage") == []


def test_old_timestamp_is_rejected(slack):
    h = slack()
    body = json.dumps(
        event_envelope({"type": "app_mention", "user": ASKER, "text": "hi", "ts": new_ts(), "channel": CHANNEL})
    )
    resp = h.post(body, content_type="application/json", timestamp=int(time.time()) - 6 * 60)
    assert resp.status_code == 401
    fresh = h.post(body, content_type="application/json", timestamp=int(time.time()) - 60)
    assert fresh.status_code == 200


def test_rate_limited_reply_is_retried_after_retry_after(slack):
    h = slack()
    h.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    ev = h.mention(ANSWERED_JA)
    call = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
    limited = [c for c in h.fake.calls if c.method == "chat.postMessage" and c.status == 429]
    assert len(limited) == 1
    assert call.at - limited[0].at >= 1.0  # waited for Retry-After
    assert "3営業日前" in all_text(call.args["blocks"])


def test_slack_api_error_still_tells_the_asker_and_escalates(slack):
    h = slack()
    h.fake.fail_next("chat.postMessage", error="invalid_blocks")
    ev = h.mention(ANSWERED_JA_2)
    call = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
    assert "blocks" not in call.args and "担当者に引き継ぎます" in call.args["text"]
    h.fake.wait_for("chat.postMessage", channel=ESCALATION)
    rec = h.services.query_log.find_by_meta("slack_message_ts", ev["ts"])
    assert rec.outcome == "escalated" and rec.escalation_reason == "error"


def test_empty_index_still_replies_and_escalates(fake, make_services, make_settings):
    """Nothing ingested yet: the asker is told the staff will answer, and the staff get the question."""
    from app.main import create_app

    empty = make_services()
    settings = make_settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        slack_escalation_channel=ESCALATION,
    )
    with TestClient(create_app(settings, services=empty)) as client:
        h = Harness(client, fake, empty)
        ev = h.mention(ANSWERED_JA)
        reply = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
        assert "担当者に引き継ぎます" in reply.args["text"]
        h.fake.wait_for("chat.postMessage", channel=ESCALATION)
        assert h.record_of(ev).outcome == "escalated"


def test_exception_inside_answering_still_replies_and_escalates(fake, make_settings, embedder, tokenizer):
    """The index never loaded (answer() raises NotReadyError): the asker is told, the staff get the question."""
    from app.services import build_services
    from app.slack.mount import mount_slack

    settings = make_settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        slack_escalation_channel=ESCALATION,
    )
    services = build_services(settings, load_index=False, embedder=embedder, tokenizer=tokenizer)
    app = FastAPI()
    app.state.services = services  # a server whose index is not loaded yet
    mount_slack(app, settings)
    h = Harness(TestClient(app), fake, services)
    try:
        ev = h.mention(ANSWERED_JA)
        reply = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
        assert "問題が発生したため" in reply.args["text"]
        post = h.fake.wait_for("chat.postMessage", channel=ESCALATION)[0]
        assert "回答の作成中にエラー" in all_text(post.args["blocks"])
        rec = h.record_of(ev)
        assert rec.outcome == "escalated" and rec.escalation_reason == "error"
    finally:
        app.state.slack_bot.shutdown()
        services.query_log.close()


def test_without_query_log_the_bot_still_answers_once_and_relays(fake, make_settings):
    """No services yet and no query log: the reply still comes (error → staff), dedupe and relay work in memory."""
    from app.slack.mount import mount_slack

    settings = make_settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        slack_escalation_channel=ESCALATION,
    )
    app = FastAPI()  # services not built (an event during start-up): answering raises inside answer()
    mount_slack(app, settings)
    try:
        _local_flow(Harness(TestClient(app), fake, None), app)
    finally:
        app.state.slack_bot.shutdown()


def _local_flow(h: Harness, app: FastAPI) -> None:
    ev = {
        "type": "app_mention",
        "user": ASKER,
        "text": f"<@{BOT_USER_ID}> {ANSWERED_JA}",
        "ts": new_ts(),
        "channel": CHANNEL,
    }
    h.event(ev, event_id="Ev0LOCAL1")
    h.event(ev, event_id="Ev0LOCAL1", retry=1)
    reply = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
    assert "問題が発生したため" in reply.args["text"]
    post = h.fake.wait_for("chat.postMessage", channel=ESCALATION)[0]
    esc_ts = None
    for _ in range(100):
        rec = app.state.slack_bot.log.find_by_meta("slack_message_ts", ev["ts"])
        esc_ts = rec.meta.get("slack_escalation_ts") if rec else None
        if esc_ts:
            break
        time.sleep(0.05)
    assert post.args["channel"] == ESCALATION and esc_ts
    h.channel_message("有給は3営業日前までに申請してください。", channel=ESCALATION, user=STAFF, thread_ts=esc_ts)
    relayed = h.fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"], count=2)[1]
    assert "3営業日前までに申請" in all_text(relayed.args["blocks"])
    h.fake.quiet(1.0)
    assert (
        len([c for c in h.fake.calls_to("chat.postMessage", channel=CHANNEL) if c.args.get("thread_ts") == ev["ts"]])
        == 2
    )


# ---------------------------------------------------------------- Socket Mode


def test_socket_mode_answers_with_the_same_listeners(services, make_settings):
    """SLACK_APP_TOKEN: the app connects over a real WebSocket in its lifespan; no HTTP endpoint is needed."""
    from app.main import create_app

    with FakeSlack() as fake:
        fake.start_socket_mode()
        settings = make_settings(slack_bot_token="xoxb-test", slack_app_token="xapp-test", slack_api_url=fake.api_url)
        with TestClient(create_app(settings, services=services)) as client:
            fake.wait_socket_connected()
            assert fake.wait_for("apps.connections.open")[0].headers.get("Authorization") == "Bearer xapp-test"
            assert client.post("/slack/events", content=b"{}").status_code == 404  # no signing secret: not mounted

            ev = {
                "type": "app_mention",
                "user": ASKER,
                "text": f"<@{BOT_USER_ID}> {ANSWERED_JA}",
                "ts": new_ts(),
                "channel": CHANNEL,
            }
            ack = fake.send_socket_envelope("events_api", event_envelope(ev))
            assert "envelope_id" in ack
            reply = fake.wait_for("chat.postMessage", channel=CHANNEL, thread_ts=ev["ts"])[0]
            assert "3営業日前" in all_text(reply.args["blocks"])
            assert labels(reply.args["blocks"]) == ["解決した", "解決しない", "担当者に聞く"]

            form = slash_form(text=ANSWERED_JA, user=ASKER, channel=CHANNEL, response_url=fake.response_url("sock"))
            ack = fake.send_socket_envelope("slash_commands", form)
            assert "調べています" in json.dumps(ack, ensure_ascii=False)
            answer = Harness(client, fake, services).response("sock")[0]
            assert answer.args["response_type"] == "ephemeral" and "3営業日前" in all_text(answer.args["blocks"])
