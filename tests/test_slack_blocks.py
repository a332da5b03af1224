"""Block Kit formatting, the app manifest, and when the Slack bot is mounted (no stores or network needed)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from app.result import AnswerResult, Source
from app.slack import blocks

ROOT = Path(__file__).resolve().parents[1]


def _result(**kw) -> AnswerResult:
    base = dict(
        query_id="q1",
        question="有給は？",
        answer="規程の「第1条」に次のとおり定められています。\n\n> 10日<付与>する & 以上\n\n出典: 規程 > 第1条",
        outcome="answered",
        confidence=0.9,
        category="attendance",
        language="ja",
        sources=[
            Source(
                source="休暇規程.md",
                title="休暇規程",
                section="休暇規程 > 第1条（年次有給休暇）",
                page=None,
                snippet="",
                score=1.0,
                url="https://intranet.example.com/leave",
            ),
            Source(
                source="休暇規程.md",
                title="休暇規程",
                section="休暇規程 > 第20条",
                page=4,
                snippet="",
                score=0.8,
                url="javascript:alert(1)",
            ),
            Source(
                source="faq.xlsx",
                title="よくある質問",
                section="有給の繰越",
                page=None,
                snippet="",
                score=0.7,
                kind="faq",
            ),
            Source(source="x.md", title="X", section="X > Y", page=None, snippet="", score=0.1),
        ],
    )
    base.update(kw)
    return AnswerResult(**base)


def _text(message: dict) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def test_answer_keeps_quotes_escapes_text_and_lists_its_sources_small_after_it():
    msg = blocks.answer_message(_result(), asker="U1")
    section = msg["blocks"][0]["text"]["text"]
    assert "> 10日&lt;付与&gt;する &amp; 以上" in section  # quote kept, control characters escaped
    assert "出典" not in section  # the citation line of the text moves to the sources, so 出典 is said once
    assert msg["blocks"][1]["type"] == "context"  # small, after the answer
    sources = msg["blocks"][1]["elements"][0]["text"]
    assert sources.startswith("出典: ") and _text(msg).count("出典") == 1
    assert "<https://intranet.example.com/leave|休暇規程> › 第1条（年次有給休暇）" in sources
    assert "*休暇規程* › 第20条（4ページ）" in sources  # not an http(s) URL: no link
    assert "javascript:" not in sources
    assert "よくある質問: *よくある質問* › 有給の繰越" in sources  # an FAQ row answering the same question
    assert "*X* › Y" not in sources  # another document the answer does not rest on is not listed
    actions = msg["blocks"][-1]
    assert actions["block_id"] == blocks.ACTIONS_BLOCK
    values = [json.loads(b["value"]) for b in actions["elements"]]
    assert values[0] == {"q": "q1", "u": "U1"} and values[2]["r"] == "user_request"


def test_english_answer_uses_english_labels_and_page_format():
    msg = blocks.answer_message(
        _result(language="en", answer="The rules say **ten days**.\n\nSource: Leave > Article 1"), asker="U1"
    )
    assert [e["text"]["text"] for e in msg["blocks"][-1]["elements"]] == ["Solved", "Not solved", "Ask the staff"]
    assert msg["blocks"][0]["text"]["text"] == "The rules say *ten days*."  # mrkdwn bold, the citation moved
    assert "Sources: " in _text(msg) and "(p. 4)" in _text(msg)


def test_escalated_answer_has_no_buttons_and_says_where_the_staff_will_answer():
    esc = _result(outcome="escalated", answer="担当者に引き継ぎます。")
    assert not [b for b in blocks.answer_message(esc, asker="U1")["blocks"] if b["type"] == "actions"]
    assert "このスレッド" in _text(blocks.answer_message(esc, asker="U1", threaded=True))
    assert "DMで" in _text(blocks.answer_message(esc, asker="U1", threaded=False))
    en = blocks.answer_message(
        _result(outcome="escalated", language="en", answer="Passed on."), asker="U1", threaded=True
    )
    assert "Their answer will appear in this thread" in _text(en)


def test_long_answers_are_clipped_to_slack_limits():
    msg = blocks.answer_message(_result(answer="あ" * 5000), asker="U1")
    assert len(msg["blocks"][0]["text"]["text"]) <= 3000 and len(msg["text"]) <= 3000


def test_button_updates():
    original = blocks.answer_message(_result(), asker="U1")["blocks"]
    done = blocks.with_status(original, blocks.t("ja", "thanks"))
    assert not [b for b in done if b["type"] == "actions"] and "解決済み" in json.dumps(done, ensure_ascii=False)
    offer = blocks.with_escalation_offer(original, query_id="q1", asker="U1", lang="en")
    button = offer[-1]["elements"][0]
    assert button["text"]["text"] == "Ask the staff" and json.loads(button["value"])["r"] == "not_helpful"


def test_escalation_post_with_and_without_optional_parts():
    full = blocks.escalation_post(
        question="a <b> & c",
        asker="U1",
        via="mention",
        channel="C1",
        reason="user_request",
        attempt="> 引用",
        sources=_result().sources,
        language="en",
        permalink="https://example.slack.com/archives/C1/p1",
        staff_group="S1",
        query_id="q1",
    )
    text = _text(full)
    assert "<!subteam^S1>" in full["text"] and "a &lt;b&gt; &amp; c" in text
    assert "<@U1>" in text and "<#C1>" in text and "英語" in text and "質問者が担当者への相談を希望" in text
    assert "<https://example.slack.com/archives/C1/p1|質問のスレッドを開く>" in text
    assert "*X* › Y" in text  # the staff see every source
    bare = blocks.escalation_post(
        question="q",
        asker="U1",
        via="dm",
        channel="D1",
        reason="low_confidence",
        attempt="",
        sources=[],
        language="ja",
        permalink=None,
        staff_group=None,
        query_id="q2",
    )
    assert "subteam" not in json.dumps(bare) and "質問のスレッドを開く" not in _text(bare)


def test_staff_answer_keeps_slack_formatting_or_escapes_plain_text():
    relayed = blocks.staff_answer(
        "see <https://portal|portal> &amp; ask", staff_user="U9", lang="ja", asker="U1", slack_formatted=True
    )
    assert "<@U1> 💬 総務部の担当者（<@U9>）" in _text(relayed) and "<https://portal|portal> &amp; ask" in _text(
        relayed
    )
    console = blocks.staff_answer("a < b", staff_user=None, lang="en", question="Q?")
    assert (
        "a &lt; b" in _text(console)
        and "*Question:* Q?" in _text(console)
        and "Answer from the general-affairs staff" in _text(console)
    )


def test_manifest_is_ready_to_paste_and_matches_the_handlers():
    manifest = yaml.safe_load((ROOT / "app" / "slack" / "manifest.yaml").read_text(encoding="utf-8"))
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_mention",
        "message.im",
        "message.channels",
        "message.groups",
    }
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] and settings["interactivity"]["request_url"].endswith(
        "/slack/events"
    )
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/faq" and command["url"].endswith("/slack/events")
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "app_mentions:read",
        "chat:write",
        "commands",
        "im:history",
        "channels:history",
        "groups:history",
        "reactions:write",
        "users:read",
    } <= scopes
    assert manifest["features"]["bot_user"]["display_name"]


def test_slack_is_mounted_only_when_configured(make_settings):
    from app.main import create_app

    plain = TestClient(create_app(make_settings()))
    assert plain.post("/slack/events", content=b"{}").status_code in (404, 405)
    mounted = create_app(
        make_settings(slack_bot_token="xoxb-x", slack_signing_secret="s", slack_api_url="http://127.0.0.1:9/api/")
    )
    assert any(getattr(r, "path", None) == "/slack/events" for r in mounted.routes)
    assert mounted.state.slack_lifespan is not None
    # Without a valid signature the request never reaches a listener.
    assert TestClient(mounted).post("/slack/events", content=b"{}").status_code == 401


def test_the_citation_line_goes_also_when_a_note_follows_it():
    text = "第1条のとおりです。\n\n出典: 休暇規程 > 第1条\n\n※ パートの方には別の規程が適用されます。"
    assert blocks.without_citation_line(text, "ja") == "第1条のとおりです。\n\n※ パートの方には別の規程が適用されます。"
    assert blocks.without_citation_line("出典のない回答です。", "ja") == "出典のない回答です。"
