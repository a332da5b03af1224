"""The HTTP asker's follow-up route (`GET /api/questions/{id}` with `X-Follow-Up-Token`), the escalation text per
channel, and the 0011 migration — over real SQLite, embedded Chroma, Sudachi and the FastAPI TestClient (fast tier:
the hashing embedder)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from app.answer import answer
from app.reply import TEXTS
from app.store.querylog import QueryLog
from tests.support.migrations import head_revision
from tests.support.querylog import AUTH, GAP, build, client_for, result


@pytest.fixture
def app_client(fast_services, tmp_path):
    services = build(fast_services, tmp_path, business_hours="平日 9–18 時", urgent_contact="内線 1234")
    with client_for(services) as client:
        yield client, services


def ask(client, question: str) -> dict:
    resp = client.post("/api/ask", json={"question": question})
    assert resp.status_code == 200, resp.text
    return resp.json()


def status(client, query_id: str, token: str | None):
    headers = {"X-Follow-Up-Token": token} if token is not None else {}
    return client.get(f"/api/questions/{query_id}", headers=headers)


def test_http_asker_gets_the_staff_answer_through_the_follow_up_route(app_client, tmp_path):
    client, services = app_client
    out = ask(client, GAP)
    assert out["outcome"] == "escalated"
    token = out["follow_up_token"]
    assert isinstance(token, str) and len(token) >= 40
    # The reply says where the answer will come from, when, and whom to call — and promises no Slack DM.
    text = out["answer"]
    assert f"GET /api/questions/{out['query_id']}" in text and "X-Follow-Up-Token" in text
    assert "平日 9–18 時" in text and "内線 1234" in text
    assert "DM" not in text and "スレッド" not in text

    waiting = status(client, out["query_id"], token)
    assert waiting.status_code == 200, waiting.text
    assert waiting.json() == {
        "query_id": out["query_id"],
        "status": "waiting",
        "staff_answer": None,
        "answered_at": None,
        "assignee": None,
    }

    resolved = client.post(
        f"/api/admin/queries/{out['query_id']}/resolve",
        headers=AUTH,
        json={"answer": "ゲスト用Wi-Fiのパスワードは受付に掲示しています。", "by": "佐藤"},
    )
    assert resolved.status_code == 200, resolved.text
    got = status(client, out["query_id"], token).json()
    assert got["status"] == "answered"
    assert got["staff_answer"] == "ゲスト用Wi-Fiのパスワードは受付に掲示しています。"
    assert got["answered_at"]

    # Only a hash of the token is stored: the raw token is nowhere in the database.
    db = services.settings.data_dir / "madoguchi.db"
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT * FROM queries WHERE id = ?", (out["query_id"],)).fetchone()
        stored = conn.execute("SELECT follow_up_hash FROM queries WHERE id = ?", (out["query_id"],)).fetchone()[0]
    assert token not in [str(v) for v in row] and not any(token in str(v) for v in row)
    assert stored and len(stored) == 64 and stored != token


def test_wrong_token_and_unknown_id_are_the_same_404(app_client):
    client, _ = app_client
    out = ask(client, GAP)
    other = ask(client, GAP + "（2回目）")
    answers = [
        status(client, out["query_id"], "not-the-token"),
        status(client, out["query_id"], other["follow_up_token"]),  # another question's token
        status(client, "0" * 32, out["follow_up_token"]),  # unknown id, a real token
        status(client, out["query_id"], None),  # no header
        status(client, out["query_id"], ""),
    ]
    for resp in answers:
        assert resp.status_code == 404, resp.text
    bodies = [r.json() for r in answers]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["error"] == "question_not_found"
    assert "X-Follow-Up-Token" in bodies[0]["detail"]  # ja by default, and en beside it
    assert "follow-up token" in bodies[0]["detail_en"]


def test_bot_answered_question_is_resolved_by_bot_until_it_did_not_help(app_client):
    client, services = app_client
    rec = result("年次有給休暇は何日ですか", outcome="answered")
    rec.follow_up_token = "t" * 43
    services.query_log.record(rec)
    assert status(client, rec.query_id, rec.follow_up_token).json()["status"] == "resolved_by_bot"
    client.post("/api/feedback", json={"query_id": rec.query_id, "helpful": False})
    assert status(client, rec.query_id, rec.follow_up_token).json()["status"] == "waiting"
    services.query_log.assign(rec.query_id, "佐藤")
    assert status(client, rec.query_id, rec.follow_up_token).json()["assignee"] == "佐藤"


def test_follow_up_route_is_documented_in_the_openapi_schema(app_client):
    client, _ = app_client
    schema = client.get("/openapi.json").json()
    op = schema["paths"]["/api/questions/{query_id}"]["get"]
    headers = [p for p in op["parameters"] if p["in"] == "header"]
    assert [p["name"] for p in headers] == ["x-follow-up-token"]
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    model = schema["components"]["schemas"][ok.rsplit("/", 1)[-1]]
    assert set(model["properties"]) == {"query_id", "status", "staff_answer", "answered_at", "assignee"}
    assert model["properties"]["status"]["enum"] == ["waiting", "answered", "resolved_by_bot"]
    assert "404" in op["responses"]


def test_escalation_text_depends_on_the_channel_and_language(fast_services, tmp_path):
    services = build(fast_services, tmp_path, business_hours="平日 9–18 時", urgent_contact="内線 1234")
    slack = answer(question=GAP, services=services, origin="slack", record=False)
    assert slack.outcome == "escalated"
    assert slack.answer.startswith(TEXTS["ja"]["escalated"])
    assert "/api/questions" not in slack.answer  # Slack says where in its blocks (thread or DM)
    assert "平日 9–18 時" in slack.answer and "内線 1234" in slack.answer
    en = answer(
        question="Where can I find the guest Wi-Fi password for visitors?",
        services=services,
        origin="api",
        record=False,
    )
    assert en.outcome == "escalated" and en.language == "en"
    assert "GET /api/questions/" in en.answer and "business hours: 平日 9–18 時" in en.answer
    assert "contact 内線 1234" in en.answer
    bare = build(fast_services, tmp_path / "bare")
    plain = answer(question=GAP, services=bare, origin="api", record=False)
    assert "対応時間" not in plain.answer and "お急ぎ" not in plain.answer


def test_a_0001_database_upgrades_to_the_follow_up_schema(tmp_path):
    from alembic import command
    from alembic.config import Config

    from app.store.querylog import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            sa.text(
                "INSERT INTO queries (id, created_at, channel, question, answer, outcome, confidence, sources, latency_ms,"
                " language, meta) VALUES ('old1', '2026-11-30 09:00:00', 'api', '古い質問', '回答', 'escalated', 0.1,"
                " '[]', 1.0, 'ja', '{}')"
            )
        )
    engine.dispose()
    log = QueryLog(url)  # migrates to head
    try:
        assert log.schema_revision() == head_revision()
        old = log.get("old1")
        assert old is not None and old.assignee is None and old.question == "古い質問"
        assert log.follow_up_hash_of("old1") is None
        assert log.assign("old1", "slack:USTAFF01").assignee == "slack:USTAFF01"
        assert log.webhook_deliveries.recent() == []
    finally:
        log.close()


def test_cli_prints_the_follow_up_token_of_an_escalated_question(fast_services, tmp_path, monkeypatch, capsys):
    from app.cli import main

    services = build(fast_services, tmp_path)
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("MADOGUCHI_EMBEDDER", services.embedder.name)
    services.query_log.close()
    assert main(["ask", GAP]) == 0
    out = capsys.readouterr().out
    assert "[escalated]" in out and "GET /api/questions/" in out
    line = next(x for x in out.splitlines() if x.startswith("follow_up_token="))
    token = line.split()[0].removeprefix("follow_up_token=")
    query_id = line.split("query_id=")[1].rstrip(")")
    log = QueryLog(services.settings.sqlalchemy_url)
    try:
        from app.ops.follow_up import question_status

        services.query_log = log
        assert question_status(services, query_id=query_id, token=token).status == "waiting"
    finally:
        log.close()
