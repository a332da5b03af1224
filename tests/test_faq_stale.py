"""Stale answers: an FAQ entry cites articles; when a cited article changes on re-ingest the entry is flagged 要確認
(API + FAQ page), answers from it carry a note, and a staff confirmation clears it."""

from __future__ import annotations

import asyncio

from app.ops import faq_citations, resolutions
from tests.support.querylog import AUTH, GAP, build, client_for

LEAVE_Q = "有休の申請は何日前までに出せばいいですか"
LEAVE_A = "原則として3日前までに所属長へ申請してください。"
NOTE = "根拠となる規程が更新された"


def article(services, caption: str) -> tuple[str, str]:
    c = next(c for c in services.index.snapshot.chunks if c.kind == "doc" and caption in c.section)
    return c.doc_id, c.section


def test_a_changed_article_flags_the_entry_until_confirmed(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    doc = tmp_path / "docs" / "就業規則.md"
    with client_for(services) as client:
        r = client.post("/api/admin/faq", json={"question": LEAVE_Q, "answer": LEAVE_A}, headers=AUTH)
        entry = r.json()
        doc_id, section = article(services, "第34条")
        r = client.put(
            f"/api/admin/faq/{entry['id']}/citations",
            json={"citations": [{"doc_id": doc_id, "section": section}]},
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
        assert r.json()["citations"][0]["section"] == section
        bad = client.put(
            f"/api/admin/faq/{entry['id']}/citations",
            json={"citations": [{"doc_id": doc_id, "section": "第99条"}]},
            headers=AUTH,
        )
        assert bad.status_code == 422 and bad.json()["error"] == "bad_citation"
        got = client.post("/api/ask", json={"question": LEAVE_Q}).json()
        assert got["outcome"] == "answered" and LEAVE_A in got["answer"] and NOTE not in got["answer"]
        assert client.get("/api/admin/faq/review", headers=AUTH).json()["total"] == 0

        # another article changes: nothing to review
        doc.write_text(
            doc.read_text(encoding="utf-8").replace("配偶者が出産するときは2日", "配偶者が出産するときは3日"),
            encoding="utf-8",
        )
        services.ingest(paths=[tmp_path / "docs"])
        assert client.get("/api/admin/faq/review", headers=AUTH).json()["total"] == 0

        # the cited article changes: 要確認, and answers from the entry say so
        doc.write_text(
            doc.read_text(encoding="utf-8").replace("原則として3日前まで", "原則として5日前まで"), encoding="utf-8"
        )
        services.ingest(paths=[tmp_path / "docs"])
        review = client.get("/api/admin/faq/review", headers=AUTH).json()
        assert review["total"] == 1 and review["entries"][0]["changed"][0]["section"] == section
        got = client.post("/api/ask", json={"question": LEAVE_Q}).json()
        assert got["outcome"] == "answered" and NOTE in got["answer"]

        from tests.test_console import csrf_of, login

        login(client)
        page = client.get("/console/faq").text
        assert "要確認" in page and 'id="faq-review"' in page
        assert 'id="dash-faq-review"' in client.get("/console").text  # listed on the dashboard too
        r = client.post(f"/console/faq/{entry['id']}/confirm", data={"csrf": csrf_of(client)}, follow_redirects=False)
        assert r.status_code == 303
        assert client.get("/api/admin/faq/review", headers=AUTH).json()["total"] == 0
        assert NOTE not in client.post("/api/ask", json={"question": LEAVE_Q}).json()["answer"]
        assert 'id="faq-review"' not in client.get("/console/faq").text
        assert 'id="dash-faq-review"' not in client.get("/console").text


def test_resolving_into_the_faq_cites_the_article_the_bot_cited(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    with client_for(services) as client:
        asked = client.post("/api/ask", json={"question": GAP}).json()
    record = services.query_log.get(asked["query_id"])
    done = asyncio.run(
        resolutions.resolve_questions(services, [record.id], answer="受付で確認できます。", add_to_faq=True)
    )
    first = record.sources[0]
    assert first["kind"] == "doc"  # the tiny corpus has only regulations
    assert [c["section"] for c in done.faq.citations] == [first["section"]]
    assert faq_citations.stale(services, done.faq) == []
