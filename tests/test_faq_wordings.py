"""FAQ wordings (言い換え): every wording of an entry is matched; resolutions store the group's questions as wordings;
helpful feedback on an FAQ answer proposes the asker's wording for one-click review (never learned silently)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from app.ops import faq, resolutions, wordings
from app.store.querylog import QueryLog
from tests.support.querylog import AUTH, build, client_for

WIFI_Q = "社内Wi-Fiのゲスト用パスワードはどこで確認できますか"
WIFI_A = "ゲスト用Wi-Fiのパスワードは受付の掲示板に毎週掲示しています。"
REWORD = "来客用の無線LANの暗証番号を教えて"


@pytest.fixture
def fast_api(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    with client_for(services) as client:
        yield client, services


def ask(client, question):
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def first_doc(services, got) -> str:
    """The document the answer's first source came from (the query log keeps it)."""
    return services.query_log.get(got["query_id"]).sources[0]["doc_id"]


def test_a_wording_is_matched_and_answered_from_its_entry(fast_api):
    client, services = fast_api
    assert ask(client, REWORD)["outcome"] == "escalated"
    r = client.post("/api/admin/faq", json={"question": WIFI_Q, "answer": WIFI_A, "category": "その他"}, headers=AUTH)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["wordings"] == []
    r = client.post(f"/api/admin/faq/{entry['id']}/wordings", json={"wording": REWORD}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["wordings"] == [REWORD]
    got = ask(client, REWORD)
    assert got["outcome"] == "answered", got
    assert first_doc(services, got) == entry["doc_id"]
    assert got["answer"].count("受付の掲示板") == 1  # one passage per entry: the answer is quoted once
    # one passage for the entry: the entry's chunks never compete with each other
    assert sum(1 for s in services.query_log.get(got["query_id"]).sources if s["doc_id"] == entry["doc_id"]) == 1
    assert client.get("/api/admin/faq", params={"q": "暗証番号"}, headers=AUTH).json()["total"] == 1
    # the same wording twice, or the question itself, is not added again
    again = client.post(f"/api/admin/faq/{entry['id']}/wordings", json={"wording": WIFI_Q}, headers=AUTH).json()
    assert again["wordings"] == [REWORD]
    # removed: no longer matched
    r = client.request("DELETE", f"/api/admin/faq/{entry['id']}/wordings", json={"wording": REWORD}, headers=AUTH)
    assert r.status_code == 200 and r.json()["wordings"] == []
    assert first_doc(services, ask(client, REWORD)) != entry["doc_id"]
    r = client.request("DELETE", f"/api/admin/faq/{entry['id']}/wordings", json={"wording": REWORD}, headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "wording_not_found"
    r = client.post(f"/api/admin/faq/{entry['id']}/wordings", json={"wording": ""}, headers=AUTH)
    assert r.status_code == 422
    r = client.post("/api/admin/faq/999/wordings", json={"wording": "x"}, headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "faq_not_found"


def test_wordings_survive_reindex_and_delete_with_the_entry(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    entry = faq.create_entry(services, question=WIFI_Q, answer=WIFI_A, category="other", wordings=[REWORD, REWORD])
    assert entry.wordings == [REWORD]
    assert services.store.manifest()[entry.doc_id].chunks == 2
    assert faq.drift_count(services) == 0
    faq.remove_wording(services, entry.id, REWORD)
    assert services.store.manifest()[entry.doc_id].chunks == 1 and faq.drift_count(services) == 0
    faq.add_wordings(services, entry.id, [REWORD])
    faq.delete_entry(services, entry.id)
    log = services.require_log()
    assert isinstance(log, QueryLog)
    with log.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM faq_wordings")).scalar() == 0


def test_resolving_with_add_to_faq_stores_every_question_as_a_wording(fast_api):
    client, services = fast_api
    q1 = ask(client, WIFI_Q)
    q2 = ask(client, REWORD)
    assert q1["outcome"] == q2["outcome"] == "escalated"
    done = asyncio.run(
        resolutions.resolve_questions(
            services, [q1["query_id"], q2["query_id"]], answer=WIFI_A, add_to_faq=True, category="other"
        )
    )
    assert done.faq is not None
    assert done.faq.question == WIFI_Q and done.faq.wordings == [REWORD]
    assert first_doc(services, ask(client, REWORD)) == done.faq.doc_id


def test_helpful_feedback_on_an_faq_answer_proposes_the_wording_for_review(fast_api):
    client, services = fast_api
    entry = faq.create_entry(services, question=WIFI_Q, answer=WIFI_A, category="other")
    asked = "社内Wi-Fiのゲスト用パスワードはどこで確認できますか？教えてください"
    got = ask(client, asked)
    assert got["outcome"] == "answered" and first_doc(services, got) == entry.doc_id
    # not helpful: nothing proposed
    r = client.post("/api/feedback", json={"query_id": got["query_id"], "helpful": False})
    assert r.status_code == 200
    assert client.get("/api/admin/faq/proposals", headers=AUTH).json()["total"] == 0
    # 解決した: proposed, not learned
    r = client.post("/api/feedback", json={"query_id": got["query_id"], "helpful": True})
    assert r.status_code == 200
    client.post("/api/feedback", json={"query_id": got["query_id"], "helpful": True})  # a second click: no duplicate
    queue = client.get("/api/admin/faq/proposals", headers=AUTH).json()
    assert queue["total"] == 1
    proposal = queue["proposals"][0]
    assert proposal["question"] == asked and proposal["entry_id"] == entry.id and proposal["entry_question"] == WIFI_Q
    assert faq.get_entry(services, entry.id).wordings == []
    r = client.post(f"/api/admin/faq/proposals/{proposal['id']}/accept", headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert faq.get_entry(services, entry.id).wordings == [asked]
    assert client.get("/api/admin/faq/proposals", headers=AUTH).json()["total"] == 0
    assert client.post("/api/admin/faq/proposals/999/accept", headers=AUTH).status_code == 404
    # the canonical question itself is never proposed
    same = ask(client, WIFI_Q)
    client.post("/api/feedback", json={"query_id": same["query_id"], "helpful": True})
    assert client.get("/api/admin/faq/proposals", params={"status": ""}, headers=AUTH).json()["total"] == 1


def test_a_rejected_proposal_is_not_learned_or_proposed_again(fast_api):
    client, services = fast_api
    entry = faq.create_entry(services, question=WIFI_Q, answer=WIFI_A, category="other")
    asked = "ゲスト用Wi-Fiのパスワードはどこで確認できますか"
    got = ask(client, asked)
    assert first_doc(services, got) == entry.doc_id
    client.post("/api/feedback", json={"query_id": got["query_id"], "helpful": True})
    [proposal] = wordings.list_proposals(services)
    assert wordings.reject(services, proposal.id, by="console").status == "rejected"
    client.post("/api/feedback", json={"query_id": got["query_id"], "helpful": True})
    assert wordings.list_proposals(services) == []
    assert faq.get_entry(services, entry.id).wordings == []


def test_console_shows_edits_wordings_and_accepts_a_proposal_in_one_click(fast_api):
    from tests.test_console import csrf_of, login

    client, services = fast_api
    entry = faq.create_entry(services, question=WIFI_Q, answer=WIFI_A, category="other")
    login(client)
    r = client.post(
        f"/console/faq/{entry.id}/wordings", data={"csrf": csrf_of(client), "wording": REWORD}, follow_redirects=False
    )
    assert r.status_code == 303
    page = client.get(f"/console/faq/{entry.id}").text
    assert "言い換え" in page and REWORD in page
    assert REWORD in client.get("/console/faq").text
    r = client.post(
        f"/console/faq/{entry.id}/wordings/remove",
        data={"csrf": csrf_of(client), "wording": REWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and faq.get_entry(services, entry.id).wordings == []

    asked = "ゲスト用Wi-Fiのパスワードはどこで確認できますか"
    got = ask(client, asked)
    client.post("/api/feedback", json={"query_id": got["query_id"], "helpful": True})
    [proposal] = wordings.list_proposals(services)
    page = client.get("/console/faq").text
    assert "言い換えの提案" in page and f'id="proposal-{proposal.id}"' in page and "採用" in page
    r = client.post(f"/console/faq/proposals/{proposal.id}/accept", data={"csrf": "wrong"}, follow_redirects=False)
    assert faq.get_entry(services, entry.id).wordings == []  # no CSRF token, nothing learned
    r = client.post(
        f"/console/faq/proposals/{proposal.id}/accept", data={"csrf": csrf_of(client)}, follow_redirects=False
    )
    assert r.status_code == 303 and "proposal_accepted" in r.headers["location"]
    assert faq.get_entry(services, entry.id).wordings == [asked]
    assert "言い換えを採用しました。" in client.get(r.headers["location"]).text
    r = client.post(f"/console/faq/proposals/{proposal.id}/maybe", data={"csrf": csrf_of(client)})
    assert r.status_code == 422


def test_a_database_at_0001_upgrades_and_keeps_its_faq_entries(tmp_path):
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
                "INSERT INTO faq_entries (question, answer, category, created_at, updated_at) "
                "VALUES ('q', 'a', 'other', '2026-01-01', '2026-01-01')"
            )
        )
    engine.dispose()
    log = QueryLog(url)  # migrates to head
    try:
        [entry] = log.faq.list()
        assert entry.wordings == []
        entry, added = log.faq.add_wordings(entry.id, ["q2"])
        assert added == ["q2"] and log.faq.get(entry.id).wordings == ["q2"]
    finally:
        log.close()
