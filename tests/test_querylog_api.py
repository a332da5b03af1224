"""HTTP API over the query log: /api/feedback and /api/admin/queries (list, filters, CSV, resolve), with auth."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.querylog import ANSWERABLE, AUTH, GAP, aware, build, client_for, seed

ADMIN_ROUTES = [
    ("get", "/api/admin/queries"),
    ("get", "/api/admin/queries.csv"),
    ("get", "/api/admin/queries/abc"),
    ("post", "/api/admin/queries/abc/resolve"),
    ("get", "/api/admin/stats"),
    ("get", "/api/admin/faq"),
    ("post", "/api/admin/faq"),
    ("get", "/api/admin/faq/1"),
    ("put", "/api/admin/faq/1"),
    ("delete", "/api/admin/faq/1"),
    ("get", "/api/admin/faq.csv"),
    ("get", "/api/admin/faq.xlsx"),
    ("post", "/api/admin/faq/import"),
    ("post", "/api/admin/faq/reindex"),
]


def test_ask_is_logged_before_the_reply_and_feedback_is_recorded(api):
    client, services = api
    body = client.post("/api/ask", json={"question": ANSWERABLE, "user_id": "U42", "channel": "cli"}).json()
    record = services.query_log.get(body["query_id"])
    assert record is not None and record.question == ANSWERABLE and record.outcome == body["outcome"] == "answered"
    assert record.origin == "cli" and record.user_id == "U42" and record.sources and record.category == "attendance"
    assert record.latency_ms > 0 and record.corpus_version >= 1 and record.prompt_version == body["prompt_version"]
    r = client.post("/api/feedback", json={"query_id": body["query_id"], "helpful": False})
    assert r.status_code == 200 and r.json() == {
        "query_id": body["query_id"],
        "helpful": False,
        "feedback": "not_helpful",
    }
    assert services.query_log.get(body["query_id"]).helpful is False
    gap = client.post("/api/ask", json={"question": GAP}).json()
    assert (
        gap["outcome"] == "escalated" and services.query_log.get(gap["query_id"]).escalation_reason == "low_confidence"
    )


def test_feedback_errors(api):
    client, _ = api
    r = client.post("/api/feedback", json={"query_id": "nope", "helpful": True})
    assert r.status_code == 404 and r.json()["error"] == "query_not_found"
    assert client.post("/api/feedback", json={"query_id": "x"}).status_code == 422
    assert client.post("/api/feedback", json={"query_id": "x", "helpful": "maybe"}).status_code == 422


def test_admin_routes_need_the_token(api):
    client, _ = api
    for method, path in ADMIN_ROUTES:
        r = getattr(client, method)(path)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", path
        r = getattr(client, method)(path, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, path


def test_admin_routes_are_off_without_a_token(make_services, tmp_path):
    services = build(make_services, tmp_path, ingest=False, admin_token=None)
    with client_for(services) as client:
        client.app.state.local_token = None  # no CLI token either
        for method, path in ADMIN_ROUTES:
            r = getattr(client, method)(path, headers=AUTH)
            assert r.status_code == 404 and r.json()["error"] == "admin_disabled", path


@pytest.fixture
def seeded(api):
    client, services = api
    log = services.query_log
    ids = seed(
        log,
        [
            (aware("2026-03-02T09:00+09:00"), "有給休暇の申請は何日前まで？", "answered", "attendance", True),
            (aware("2026-03-02T23:30+09:00"), "出張旅費の精算期限は？", "answered", "expense", False),
            (aware("2026-03-03T00:30+09:00"), '=HYPERLINK("http://evil") 経費の締め日', "escalated", "expense", None),
            (aware("2026-03-05T10:00+09:00"), "コピー用紙の補充", "escalated", None, None),
            (aware("2026-03-05T11:00+09:00"), "ロッカーの鍵をなくした", "escalated", "supplies", False),
        ],
    )
    log.update_meta(ids[3], slack_channel="C1")
    return client, services, ids


def _ids(client, **params):
    r = client.get("/api/admin/queries", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return [q["id"] for q in r.json()["queries"]]


def test_list_and_every_filter(seeded):
    client, _, ids = seeded
    body = client.get("/api/admin/queries", headers=AUTH).json()
    assert body["total"] == 5 and body["page"] == 1 and body["pages"] == 1
    assert [q["id"] for q in body["queries"]] == list(reversed(ids))  # newest first
    first = body["queries"][-1]
    assert (
        first["question"] == "有給休暇の申請は何日前まで？"
        and first["feedback"] == "helpful"
        and first["sources"][0]["title"] == "就業規則"
    )
    assert _ids(client, outcome="escalated") == [ids[4], ids[3], ids[2]]
    assert _ids(client, outcome="answered") == [ids[1], ids[0]]
    assert _ids(client, category="expense") == [ids[2], ids[1]]
    assert _ids(client, category="経費") == [ids[2], ids[1]]  # Japanese category names work too
    assert _ids(client, category="other") == [ids[3]]
    # Dates are whole days in Asia/Tokyo: 23:30 JST on 3/2 is 3/2, 00:30 JST on 3/3 is 3/3.
    assert _ids(client, **{"from": "2026-03-02", "to": "2026-03-02"}) == [ids[1], ids[0]]
    assert _ids(client, **{"from": "2026-03-03"}) == [ids[4], ids[3], ids[2]]
    assert _ids(client, to="2026-03-03") == [ids[2], ids[1], ids[0]]
    assert _ids(client, q="旅費") == [ids[1]]
    assert _ids(client, feedback="not_helpful") == [ids[4], ids[1]]
    assert _ids(client, channel="api", outcome="answered", category="attendance") == [ids[0]]
    assert _ids(client, page=2, per_page=2) == [ids[2], ids[1]]
    body = client.get("/api/admin/queries", params={"page": 3, "per_page": 2}, headers=AUTH).json()
    assert [q["id"] for q in body["queries"]] == [ids[0]] and body["pages"] == 3 and body["total"] == 5
    for bad in (
        {"outcome": "deflected"},
        {"category": "lunch"},
        {"from": "3月2日"},
        {"feedback": "meh"},
        {"page": 0},
        {"resolved": "maybe"},
    ):
        r = client.get("/api/admin/queries", params=bad, headers=AUTH)
        assert r.status_code == 422, bad


def test_csv_is_utf8_with_bom_and_keeps_filters(seeded):
    client, _, ids = seeded
    r = client.get("/api/admin/queries.csv", params={"category": "expense"}, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == [ids[2], ids[1]]
    assert rows[1]["question"] == "出張旅費の精算期限は？" and rows[1]["feedback"] == "not_helpful"
    assert rows[1]["created_at"] == "2026-03-02T23:30:00+09:00"  # local time of the office
    assert rows[0]["question"].startswith("'=HYPERLINK")  # no formula runs when Excel opens the file
    assert "就業規則" in rows[0]["sources"]
    all_rows = client.get("/api/admin/queries.csv", headers=AUTH).content.decode("utf-8-sig").splitlines()
    assert len(all_rows) == 6 and all_rows[0].startswith("id,created_at,channel")


def test_get_one_query(seeded):
    client, _, ids = seeded
    r = client.get(f"/api/admin/queries/{ids[3]}", headers=AUTH)
    assert r.status_code == 200 and r.json()["meta"] == {"slack_channel": "C1"} and r.json()["category"] is None
    assert client.get("/api/admin/queries/missing", headers=AUTH).status_code == 404


def test_resolve_records_answer_and_calls_every_hook(seeded):
    client, services, ids = seeded
    relayed = []

    def slack_relay(record, answer):
        relayed.append((record.id, record.meta.get("slack_channel"), record.resolution, answer))
        return True  # delivered

    async def async_relay(record, answer):
        relayed.append(("async", record.id))  # ran, but not its question to deliver (returns None)

    def broken(record, answer):
        raise RuntimeError("Slack is down")

    services.resolution_hooks.extend([slack_relay, broken, async_relay])
    r = client.post(
        f"/api/admin/queries/{ids[3]}/resolve", json={"answer": "総務部の棚にあります。", "by": "sato"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["query"]["resolution"] == "総務部の棚にあります。"
        and body["query"]["resolved_by"] == "sato"
        and body["query"]["resolved_at"]
    )
    assert body["faq"] is None and body["relayed"] == 1
    assert body["relay_errors"] == [{"query_id": ids[3], "hook": "broken", "error": "Slack is down"}]
    assert relayed == [(ids[3], "C1", "総務部の棚にあります。", "総務部の棚にあります。"), ("async", ids[3])]
    stored = services.query_log.get(ids[3])
    assert stored.resolution == "総務部の棚にあります。" and stored.resolved_by == "sato"
    assert _ids(client, resolved="true") == [ids[3]]
    assert client.post("/api/admin/queries/missing/resolve", json={"answer": "x"}, headers=AUTH).status_code == 404
    assert client.post(f"/api/admin/queries/{ids[2]}/resolve", json={"answer": ""}, headers=AUTH).status_code == 422
    r = client.post(
        f"/api/admin/queries/{ids[2]}/resolve",
        json={"answer": "x", "add_to_faq": True, "category": "lunch"},
        headers=AUTH,
    )
    assert r.status_code == 422 and services.query_log.get(ids[2]).resolution is None  # nothing half-done


def test_resolve_with_add_to_faq_makes_the_next_question_answerable(api):
    client, services = api
    first = client.post("/api/ask", json={"question": GAP}).json()
    assert first["outcome"] == "escalated"
    r = client.post(
        f"/api/admin/queries/{first['query_id']}/resolve",
        json={
            "answer": "ゲスト用Wi-Fiのパスワードは受付の掲示板に毎週掲示しています。",
            "add_to_faq": True,
            "category": "その他",
        },
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    faq = r.json()["faq"]
    assert faq["question"] == GAP and faq["category"] == "other" and faq["source_query_id"] == first["query_id"]
    again = client.post("/api/ask", json={"question": GAP}).json()
    assert again["outcome"] == "answered"
    assert again["sources"][0]["source"] == "FAQ" and "受付の掲示板" in again["answer"]
