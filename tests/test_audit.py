"""The audit trail (issue 12 part 2): every change through the API and the console is recorded inside the service
with who did it; `GET /api/admin/audit` with filters; the 「変更履歴」 page and its spreadsheet-safe CSV; an FAQ
entry's history with one-click restore (itself audited). Fast tier: hashing embedder, Chroma and SQLite in tmp_path."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest

from app.ops import accounts
from app.ops.audit import record_audit
from tests.support.querylog import AUTH, TOKEN, build, client_for, result

PW = "correct horse battery"


@pytest.fixture
def client(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    accounts.add_user(services.query_log, name="aoki", role="admin", password=PW, actor="test")
    with client_for(services) as c:
        c.services = services
        c.bearer = {"Authorization": f"Bearer {accounts.new_token(services.query_log, 'aoki', actor='test')}"}
        yield c


def login(client, name, password):
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text).group(1)
    client.post("/console/login", data={"csrf": csrf, "name": name, "token": password, "next": "/console"})


def csrf_of(client, path="/console/faq"):
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def audit(client, **params):
    r = client.get("/api/admin/audit", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_api_changes_are_recorded_with_the_token_owner_and_before_after(client):
    r = client.post(
        "/api/admin/faq", json={"question": "名刺の発注は", "answer": "ポータルから。"}, headers=client.bearer
    )
    fid = r.json()["id"]
    client.put(
        f"/api/admin/faq/{fid}", json={"question": "名刺の発注は", "answer": "総務ポータルから申請。"}, headers=AUTH
    )
    client.delete(f"/api/admin/faq/{fid}", headers=client.bearer)
    items = audit(client, action="faq.")
    assert [(i["action"], i["actor"]) for i in items] == [
        ("faq.delete", "aoki"),
        ("faq.update", "admin-token"),
        ("faq.create", "aoki"),
    ]
    upd = items[1]
    assert upd["target_type"] == "faq" and upd["target_id"] == str(fid)
    assert upd["before"]["answer"] == "ポータルから。" and upd["after"]["answer"] == "総務ポータルから申請。"
    assert set(upd) >= {"at", "actor", "action", "target_type", "target_id", "before", "after"}
    assert items[0]["before"]["question"] == "名刺の発注は" and items[0]["after"] is None
    assert [i["action"] for i in audit(client, actor="aoki", action="faq.delete")] == ["faq.delete"]


def test_resolution_upload_and_glossary_are_recorded(client):
    log = client.services.query_log
    r = result("駐車場の申請方法は", outcome="escalated")
    log.record(r)
    resp = client.post(
        f"/api/admin/queries/{r.query_id}/resolve",
        json={"answer": "総務の窓口で申請します。", "add_to_faq": True},
        headers=client.bearer,
    )
    assert resp.status_code == 200, resp.text
    resolved = audit(client, action="query.resolve")
    assert resolved[0]["actor"] == "aoki" and resolved[0]["target_id"] == r.query_id
    assert resolved[0]["after"]["resolution"] == "総務の窓口で申請します。"
    assert audit(client, action="faq.create")[0]["actor"] == "aoki"  # the FAQ entry made from the answer

    up = client.post(
        "/api/admin/ingest",
        files=[("files", ("備品規程.md", "# 備品規程\n\n文房具は総務で受け取る。".encode()))],
        headers=client.bearer,
    )
    assert up.status_code == 200, up.text
    uploaded = audit(client, action="document.upload")
    assert [(u["actor"], u["target_id"], u["after"]["status"]) for u in uploaded] == [("aoki", "備品規程.md", "added")]

    client.put("/api/admin/glossary/ケイヒノート", json={"formal": "経費精算システム"}, headers=client.bearer)
    client.delete("/api/admin/glossary/ケイヒノート", headers=AUTH)
    assert [(g["action"], g["actor"]) for g in audit(client, target_type="glossary")] == [
        ("glossary.delete", "admin-token"),
        ("glossary.set", "aoki"),
    ]


def test_console_changes_record_the_signed_in_person(client):
    login(client, "aoki", PW)
    client.post(
        "/console/faq",
        data={
            "csrf": csrf_of(client),
            "question": "傘の貸出は",
            "answer": "受付で貸し出します。",
            "category": "supplies",
        },
    )
    client.post(
        "/console/glossary", data={"csrf": csrf_of(client, "/console/glossary"), "word": "ケイヒ", "formal": "経費"}
    )
    log = client.services.query_log
    r = result("Wi-Fiのパスワードは", outcome="escalated", category=None)
    log.record(r)
    key = r.query_id  # a group is found by any of its questions' ids
    client.post(
        f"/console/gaps/{key}/resolve",
        data={
            "csrf": csrf_of(client, f"/console/gaps/{key}"),
            "query_id": [r.query_id],
            "answer": "受付で聞いてください。",
        },
    )
    got = {(i["action"], i["actor"]) for i in audit(client)}
    assert {("faq.create", "aoki"), ("glossary.set", "aoki"), ("query.resolve", "aoki")} <= got
    assert log.get(r.query_id).resolved_by == "aoki"


def test_filters_and_bad_input(client):
    record_audit(
        client.services,
        actor="someone",
        action="document.delete",
        target_type="document",
        target_id="古い規程.pdf",
        before={"chunks": 3},
    )
    assert [i["target_id"] for i in audit(client, action="document.delete")] == ["古い規程.pdf"]
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()
    assert audit(client, since=tomorrow) == []
    assert len(audit(client, since="2020-01-01")) >= 1
    r = client.get("/api/admin/audit", params={"since": "yesterday"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "bad_date"
    assert client.get("/api/admin/audit", params={"page": 10**30}, headers=AUTH).status_code == 422
    assert client.get("/api/admin/audit").status_code == 401


def test_history_page_filters_and_csv_is_spreadsheet_safe(client):
    client.post("/api/admin/faq", json={"question": '=HYPERLINK("http://x")', "answer": "＝1+1"}, headers=client.bearer)
    login(client, "aoki", PW)
    page = client.get("/console/audit")
    assert page.status_code == 200 and "変更履歴" in page.text and "FAQ 追加" in page.text and "aoki" in page.text
    assert "faq.create" not in re.sub(r'value="[^"]*"', "", page.text)  # actions shown in Japanese
    assert "FAQ 追加" not in client.get("/console/audit", params={"action": "user.add"}).text.split("</form>")[-1]
    r = client.get("/console/audit.csv", params={"actor": "aoki"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["日時", "変更した人", "操作", "対象の種類", "対象", "変更前", "変更後"]
    body = rows[1:]
    assert "faq.create" in {row[2] for row in body} and {row[1] for row in body} == {"aoki"}
    record_audit(
        client.services, actor="aoki", action="glossary.set", target_type="glossary", target_id="=cmd|'/C calc'!A0"
    )
    rows = list(csv.reader(io.StringIO(client.get("/console/audit.csv").content.decode("utf-8-sig"))))
    assert "'=cmd|'/C calc'!A0" in [row[4] for row in rows]
    assert all(not cell.startswith(("=", "＝", "+", "@")) for row in body for cell in row)


def test_faq_history_and_one_click_restore_through_the_console(client):
    fid = client.post(
        "/api/admin/faq",
        json={"question": "有給の申請期限は", "answer": "3日前までに申請します。"},
        headers=client.bearer,
    ).json()["id"]
    client.put(
        f"/api/admin/faq/{fid}", json={"question": "有給の申請期限は", "answer": "前日までに申請します。"}, headers=AUTH
    )
    login(client, "aoki", PW)
    page = client.get(f"/console/faq/{fid}")
    assert "この FAQ の変更履歴" in page.text and "admin-token" in page.text and "この版に戻す" in page.text
    first = [i for i in audit(client, target_type="faq", target_id=str(fid)) if i["action"] == "faq.create"][0]
    r = client.post(
        f"/console/faq/{fid}/restore",
        data={"csrf": csrf_of(client, f"/console/faq/{fid}"), "change": str(first["id"])},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "以前の版に戻しました" in r.text
    assert client.get(f"/api/admin/faq/{fid}", headers=AUTH).json()["answer"] == "3日前までに申請します。"
    latest = audit(client, target_type="faq", target_id=str(fid))[0]
    assert latest["action"] == "faq.restore" and latest["actor"] == "aoki"
    assert latest["before"]["answer"] == "前日までに申請します。" and latest["after"]["restored_from"] == first["id"]
    # a change of another entry cannot be "restored" here
    other = client.post("/api/admin/faq", json={"question": "別の質問", "answer": "別の回答"}, headers=AUTH).json()[
        "id"
    ]
    foreign = audit(client, target_type="faq", target_id=str(other))[0]["id"]
    r = client.post(f"/api/admin/faq/{fid}/restore", json={"change_id": foreign}, headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "faq_version_not_found"
    history = client.get(f"/api/admin/faq/{fid}/history", headers=AUTH).json()["items"]
    assert [h["action"] for h in history] == ["faq.restore", "faq.update", "faq.create"]


def test_history_page_speaks_japanese_not_field_names(client):
    r = result("コピー機の場所は", outcome="escalated")
    client.services.query_log.record(r)
    client.post(f"/api/admin/queries/{r.query_id}/resolve", json={"answer": "2階の北側です。"}, headers=client.bearer)
    client.post(
        "/api/admin/ingest",
        files=[("files", ("備品規程.md", "# 備品規程\n\n文房具は総務で受け取る。".encode()))],
        headers=AUTH,
    )
    login(client, "aoki", PW)
    table = client.get("/console/audit").text.split("<table", 1)[1]
    for ja in ("回答内容", "回答者", "結果", "追加", "質問に回答", "文書アップロード", "変更後"):
        assert ja in table, ja
    text = re.sub(r"<[^>]+>", " ", table)
    for raw in ("resolution:", "resolved_by:", "status:", " added", "query.resolve", "document.upload"):
        assert raw not in text, raw
