"""Questions from every channel reach the staff channel in Slack, with 「担当する」 and 「コンソールで開く」: the real app
(create_app + lifespan, signed requests into `/slack/events`), real SQLite / Chroma / Sudachi (hashing embedder), and
the local fake of Slack's Web API (tests/support/slack_api.py)."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from fastapi.testclient import TestClient

from tests.support.querylog import AUTH, GAP, build
from tests.support.slack_api import FakeSlack, block_actions, event_envelope, signed_headers
from tests.test_console import login

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
STAFF = "USTAFF01"
ESCALATION = "C0STAFF1"
PUBLIC_URL = "https://madoguchi.example.co.jp"


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def app(fast_services, tmp_path, fake):
    services = build(
        fast_services,
        tmp_path,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        slack_escalation_channel=ESCALATION,
        public_url=PUBLIC_URL + "/",
    )
    from app.main import create_app

    with TestClient(create_app(services.settings, services=services)) as client:
        yield client, services


def slack_post(client, payload: dict):
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    resp = client.post(
        "/slack/events",
        content=body.encode("utf-8"),
        headers=signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded"),
    )
    assert resp.status_code == 200, resp.text


def buttons(blocks: list[dict]) -> dict[str, dict]:
    return {el["text"]["text"]: el for b in blocks if b.get("type") == "actions" for el in b["elements"]}


def texts(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", [])]
        out += [e["text"] for e in b.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(out)


def wait_meta(services, query_id: str, key: str) -> dict:
    for _ in range(400):
        rec = services.query_log.get(query_id)
        if rec and rec.meta.get(key):
            return rec.meta
        time.sleep(0.05)
    raise AssertionError(f"{key} never set on {query_id}")


def test_api_escalation_is_posted_to_staff_who_assign_and_answer_it(app, fake):
    client, services = app
    asked = client.post("/api/ask", json={"question": GAP, "user_id": "E1001"}).json()
    assert asked["outcome"] == "escalated"
    post = fake.wait_for("chat.postMessage", channel=ESCALATION)[0]
    blocks = post.args["blocks"]
    shown = texts(blocks)
    assert GAP in shown and "HTTP API" in shown and "E1001" in shown and asked["query_id"] in shown
    assert "GET /api/questions/" in shown  # the staff are told how this asker gets the answer (no Slack DM)
    found = buttons(blocks)
    assert set(found) == {"担当する", "コンソールで開く"}
    assert found["コンソールで開く"]["url"] == PUBLIC_URL + "/console/gaps"
    meta = wait_meta(services, asked["query_id"], "slack_escalation_ts")
    assert meta["slack_escalation_channel"] == ESCALATION

    # 担当する: the clicking staff member handles it — on the post, in the log, for the asker, in the console.
    assign = found["担当する"]
    message = {"type": "message", "ts": meta["slack_escalation_ts"], "text": post.args["text"], "blocks": blocks}
    action = {
        "action_id": assign["action_id"],
        "block_id": "madoguchi_staff",
        "value": assign["value"],
        "text": assign["text"],
    }
    slack_post(
        client,
        block_actions(
            user=STAFF, channel=ESCALATION, message=message, action=action, response_url=fake.response_url("assign")
        ),
    )
    updated = fake.wait_for("response_url")[0]
    assert updated.args["replace_original"] is True
    assert f"<@{STAFF}> が担当しています" in texts(updated.args["blocks"])
    assert set(buttons(updated.args["blocks"])) == {"担当する", "コンソールで開く"}
    rec = services.query_log.get(asked["query_id"])
    assert rec.assignee == f"slack:{STAFF}" and rec.assigned_at is not None
    status = client.get(f"/api/questions/{asked['query_id']}", headers={"X-Follow-Up-Token": asked["follow_up_token"]})
    assert status.json()["assignee"] == f"slack:{STAFF}" and status.json()["status"] == "waiting"
    assert login(client).status_code == 303
    assert f"slack:{STAFF}" in client.get("/console/gaps").text
    assert f"担当者: slack:{STAFF}" in client.get("/console/queries").text  # the query log shows who handles it

    # A reply in the staff thread answers it: recorded, and the HTTP asker fetches it (nothing is sent to a DM).
    reply = {
        "type": "message",
        "channel_type": "channel",
        "user": STAFF,
        "text": "受付に掲示しています。",
        "ts": "1699000100.000001",
        "thread_ts": meta["slack_escalation_ts"],
        "channel": ESCALATION,
    }
    body = json.dumps(event_envelope(reply))
    resp = client.post("/slack/events", content=body.encode("utf-8"), headers=signed_headers(SECRET, body))
    assert resp.status_code == 200
    fake.wait_for("reactions.add", channel=ESCALATION)
    got = client.get(f"/api/questions/{asked['query_id']}", headers={"X-Follow-Up-Token": asked["follow_up_token"]})
    assert got.json()["status"] == "answered" and got.json()["staff_answer"] == "受付に掲示しています。"
    assert [c.args.get("channel") for c in fake.calls_to("chat.postMessage")] == [ESCALATION]


def test_console_answer_to_an_api_question_is_noted_in_the_staff_thread(app, fake):
    client, services = app
    asked = client.post("/api/ask", json={"question": GAP}).json()
    meta = wait_meta(services, asked["query_id"], "slack_escalation_ts")
    out = client.post(
        f"/api/admin/queries/{asked['query_id']}/resolve", headers=AUTH, json={"answer": "掲示板にあります。"}
    )
    assert out.status_code == 200 and out.json()["relayed"] == 0 and out.json()["relay_errors"] == []
    note = fake.wait_for("chat.postMessage", channel=ESCALATION, thread_ts=meta["slack_escalation_ts"])[0]
    assert "API の状況確認で受け取ります" in note.args["text"] and "転送しました" not in note.args["text"]


def test_answered_and_evaluation_questions_are_not_posted(app, fake):
    from app.answer import answer

    client, services = app
    answer(question=GAP, services=services, origin="eval")
    fake.quiet(1.0)
    assert not fake.calls_to("chat.postMessage", channel=ESCALATION)


def test_without_a_public_url_there_is_no_console_button(fast_services, tmp_path, fake):
    from app.main import create_app

    services = build(
        fast_services,
        tmp_path,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        slack_escalation_channel=ESCALATION,
    )
    with TestClient(create_app(services.settings, services=services)) as client:
        client.post("/api/ask", json={"question": GAP})
        post = fake.wait_for("chat.postMessage", channel=ESCALATION)[0]
        assert set(buttons(post.args["blocks"])) == {"担当する"}


def test_slack_escalation_by_button_and_the_staff_reply_reach_the_webhook(fast_services, tmp_path, fake):
    from app.main import create_app
    from app.ops.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
    from tests.test_webhooks import Receiver, header

    asker, dm = "UASKER01", "D0ASKER1"
    with Receiver() as receiver:
        services = build(
            fast_services,
            tmp_path,
            slack_bot_token="xoxb-test",
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            slack_escalation_channel=ESCALATION,
            confidence_threshold=0.0,
            webhook_url=receiver.url,
            webhook_secret="s3cret",
            webhook_backoff_s=0.05,
        )
        with TestClient(create_app(services.settings, services=services)) as client:
            ev = {
                "type": "message",
                "channel_type": "im",
                "user": asker,
                "text": "年次有給休暇は何日付与されますか",
                "ts": "1699000200.000001",
                "channel": dm,
            }
            body = json.dumps(event_envelope(ev))
            assert (
                client.post("/slack/events", content=body.encode(), headers=signed_headers(SECRET, body)).status_code
                == 200
            )
            reply = fake.wait_for("chat.postMessage", channel=dm)[0]
            ask_staff = buttons(reply.args["blocks"])["担当者に聞く"]
            message = {
                "type": "message",
                "ts": "1699000200.000002",
                "text": reply.args["text"],
                "blocks": reply.args["blocks"],
            }
            action = {
                "action_id": ask_staff["action_id"],
                "block_id": "madoguchi_feedback",
                "value": ask_staff["value"],
                "text": ask_staff["text"],
            }
            slack_post(
                client,
                block_actions(
                    user=asker, channel=dm, message=message, action=action, response_url=fake.response_url("esc")
                ),
            )
            escalated = receiver.wait(1)[0]
            assert escalated.data["event"] == "question.escalated" and escalated.data["channel"] == "slack"
            assert escalated.data["escalation_reason"] == "user_request"
            query_id = escalated.data["query_id"]
            meta = wait_meta(services, query_id, "slack_escalation_ts")
            staff = {
                "type": "message",
                "channel_type": "channel",
                "user": STAFF,
                "text": "10日です。",
                "ts": "1699000300.000001",
                "thread_ts": meta["slack_escalation_ts"],
                "channel": ESCALATION,
            }
            body = json.dumps(event_envelope(staff))
            assert (
                client.post("/slack/events", content=body.encode(), headers=signed_headers(SECRET, body)).status_code
                == 200
            )
            resolved = receiver.wait(2)[1]
            assert resolved.data["event"] == "question.resolved" and resolved.data["staff_answer"] == "10日です。"
            assert resolved.data["resolved_by"] == f"slack:{STAFF}"
            assert verify_signature(
                "s3cret", header(resolved, TIMESTAMP_HEADER), resolved.body, header(resolved, SIGNATURE_HEADER)
            )
            fake.wait_for("chat.postMessage", channel=dm, count=2)  # and the Slack asker got the answer in Slack


def test_app_home_lists_the_askers_open_questions_and_staff_answers(app, fake):
    client, services = app
    asker, dm = "UHOME001", "D0HOME01"

    def event(ev: dict) -> None:
        body = json.dumps(event_envelope(ev))
        assert (
            client.post("/slack/events", content=body.encode(), headers=signed_headers(SECRET, body)).status_code == 200
        )

    for i, question in enumerate((GAP, "社員食堂のメニューはどこで見られますか")):
        event(
            {
                "type": "message",
                "channel_type": "im",
                "user": asker,
                "text": question,
                "ts": f"1699000400.00000{i}",
                "channel": dm,
            }
        )
    fake.wait_for("chat.postMessage", channel=ESCALATION, count=2)
    mine = services.query_log.of_asker(asker)
    assert {r.outcome for r in mine} == {"escalated"} and len(mine) == 2
    cafeteria = next(r for r in mine if "食堂" in r.question)
    out = client.post(
        f"/api/admin/queries/{cafeteria.id}/resolve",
        headers=AUTH,
        json={"answer": "社内ポータルの「食堂」ページにあります。"},
    )
    assert out.status_code == 200 and out.json()["relayed"] == 1
    services.query_log.assign(next(r for r in mine if r.question == GAP).id, "佐藤 (slack:USTAFF01)")

    event({"type": "app_home_opened", "user": asker, "channel": dm, "tab": "home", "event_ts": "1699000500.000001"})
    view = fake.wait_for("views.publish", user_id=asker)[0].args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    shown = texts(view["blocks"])
    assert "担当者が対応中の質問" in shown and GAP in shown and "担当: 佐藤 (slack:USTAFF01)" in shown
    assert "担当者が回答した質問" in shown and "社内ポータルの「食堂」ページにあります。" in shown
    open_part = shown.split("担当者が回答した質問")[0]
    assert "食堂" not in open_part  # an answered question is no longer open

    event(
        {
            "type": "app_home_opened",
            "user": "UNOBODY1",
            "channel": "D0NOBODY",
            "tab": "home",
            "event_ts": "1699000500.000002",
        }
    )
    empty = fake.wait_for("views.publish", user_id="UNOBODY1")[0].args["view"]
    empty = json.loads(empty) if isinstance(empty, str) else empty
    assert "担当者に引き継いだ質問はありません" in texts(empty["blocks"])
