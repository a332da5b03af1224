"""Documents managed in place (fast tier: embedded Chroma, SQLite, hashing embedder, TestClient): the last ingest
of any process on the documents page, delete / replace / re-ingest one document through the API and the console,
per-file results in Japanese, and one source of the failure counts."""

from __future__ import annotations

import re

import pytest

from tests.support.querylog import AUTH, build, client_for
from tests.test_console import csrf_of, login

EXPENSE = "経費精算規程.md"


@pytest.fixture
def server(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    with client_for(services) as client:
        yield client, services


def test_documents_page_shows_an_ingest_run_from_the_command_line(fast_services, tmp_path):
    """The bug: after `madoguchi ingest` (another process on the same store) the page said 「まだ取り込みを実行していません」."""
    server = build(fast_services, tmp_path, ingest=False)
    cli = fast_services(data_dir=server.settings.data_dir, docs_dir=server.settings.docs_dir)
    cli.ingest(paths=[cli.settings.docs_dir])  # what `madoguchi ingest` does when no server holds the store
    with client_for(server) as client:
        login(client)
        html = client.get("/console/documents").text
    assert "まだ取り込みを実行していません" not in html
    assert "実行: コマンド（madoguchi ingest）" in html and "追加: 2" in html
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} に実行", html)


def test_delete_a_document_through_the_api_removes_it_from_answers(server):
    client, services = server
    asked = client.post("/api/ask", json={"question": "出張の旅費は何日以内に精算しますか"}).json()
    assert any(s["source"] == EXPENSE for s in asked["sources"])
    version = services.store.corpus_info()["version"]
    r = client.delete(f"/api/admin/documents/{EXPENSE}", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["file_removed"] is True and r.json()["corpus_version"] == version + 1
    assert EXPENSE not in services.store.manifest() and services.store.chunk_ids_of(EXPENSE) == []
    assert not (services.settings.docs_dir / EXPENSE).exists()  # a re-ingest of the folder does not bring it back
    asked = client.post("/api/ask", json={"question": "出張の旅費は何日以内に精算しますか"}).json()
    assert all(s["source"] != EXPENSE for s in asked["sources"])
    listed = client.get("/api/admin/documents", headers=AUTH).json()
    assert [d["doc_id"] for d in listed["documents"] if d["kind"] == "doc"] == ["就業規則.md"]
    r = client.delete(f"/api/admin/documents/{EXPENSE}", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "document_not_found"
    assert client.delete("/api/admin/documents/就業規則.md").status_code == 401


def test_another_replica_drops_a_deleted_document(server, fast_services):
    client, services = server
    replica = fast_services(data_dir=services.settings.data_dir, docs_dir=services.settings.docs_dir)
    replica.index.refresh()
    assert EXPENSE in replica.store.manifest()
    client.delete(f"/api/admin/documents/{EXPENSE}", headers=AUTH)
    replica.index.refresh()
    assert replica.index.snapshot.version == services.store.corpus_info()["version"]
    assert EXPENSE not in replica.store.manifest()


def test_replace_and_reingest_one_document_through_the_api(server):
    client, services = server
    new = "---\ncategory: expense\n---\n# 経費精算規程\n\n## 第5条 旅費の精算\n出張の旅費は、出張終了後1週間以内に精算する。\n"
    r = client.put(
        f"/api/admin/documents/{EXPENSE}", files={"file": ("新しい版.md", new.encode(), "text/markdown")}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == {"updated": 1} and "1週間以内" in (services.settings.docs_dir / EXPENSE).read_text()
    r = client.post(f"/api/admin/documents/{EXPENSE}/reingest", headers=AUTH)
    assert r.status_code == 200 and r.json()["counts"] == {"updated": 1}  # indexed again although unchanged
    r = client.put(
        f"/api/admin/documents/{EXPENSE}", files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")}, headers=AUTH
    )
    assert r.status_code == 422 and r.json()["error"] == "replace_type_mismatch"


def test_console_documents_in_japanese_with_one_count_of_failures(server):
    client, services = server
    login(client)
    (services.settings.docs_dir / "空の規程.md").write_text("", encoding="utf-8")  # fails: empty
    r = client.post(
        "/console/documents/reingest", data={"csrf": csrf_of(client, "/console/documents")}, follow_redirects=False
    )
    assert r.headers["location"] == "/console/documents?done=ingest"
    html = client.get(r.headers["location"]).text
    banner = re.search(r'<p class="flash (\w+)">([^<]+)</p>', html)
    assert banner.group(1) == "error" and banner.group(2) == "取り込みが終わりました: 変更なし 2、失敗 1"
    assert "変更なし: 2" in html and "失敗: 1" in html  # the tags: the same report as the banner
    assert "ファイルが空です。" in html and "The file is empty" not in html
    for english in (">ok<", ">failed<", "added ", "updated ", "unchanged "):
        assert english not in html, english
    assert (
        'data-confirm="この文書を削除しますか？' in html and 'onsubmit="return confirm(this.dataset.confirm)"' in html
    )
    r = client.post(
        "/console/documents/delete",
        data={"csrf": csrf_of(client, "/console/documents"), "doc_id": EXPENSE},
        follow_redirects=False,
    )
    assert r.status_code == 303 and EXPENSE not in services.store.manifest()
    assert "文書を削除しました" in client.get(r.headers["location"]).text
    r = client.post(
        "/console/documents/delete", data={"csrf": csrf_of(client, "/console/documents"), "doc_id": "nope.md"}
    )
    assert r.status_code == 404 and "nope.md" in r.text and "はありません" in r.text
    r = client.post(
        "/console/documents/reingest-one",
        data={"csrf": csrf_of(client, "/console/documents"), "doc_id": "就業規則.md"},
        follow_redirects=False,
    )
    html = client.get(r.headers["location"]).text
    assert "実行: コンソール" in html and "更新: 1" in html


def test_an_ingest_the_command_line_sends_through_the_server_says_so(server):
    client, services = server
    body = {"paths": [str(services.settings.docs_dir)], "by": "cli"}  # what `madoguchi ingest` posts to a server
    r = client.post("/api/admin/ingest", json=body, headers=AUTH)
    assert r.status_code == 200 and r.json()["by"] == "cli"
    assert client.post("/api/admin/ingest", json={"by": "someone"}, headers=AUTH).json()["by"] == "api"
