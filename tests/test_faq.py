"""FAQ entries: CRUD over HTTP, searchable at once (no re-ingest), CSV/XLSX import and export, index sync."""

from __future__ import annotations

import csv
import io

import openpyxl

from tests.support.querylog import AUTH, GAP

WIFI_ANSWER = "ゲスト用Wi-Fiのパスワードは受付の掲示板に毎週掲示しています。"


def ask(client, question):
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def test_crud_and_search_at_once(api):
    client, services = api
    assert ask(client, GAP)["outcome"] == "escalated"
    version = services.index.snapshot.version
    r = client.post("/api/admin/faq", json={"question": GAP, "answer": WIFI_ANSWER, "category": "その他"}, headers=AUTH)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert (
        entry["category"] == "other"
        and entry["doc_id"] == f"faq:{entry['id']}"
        and entry["created_by"] == "admin-token"
    )
    assert services.index.snapshot.version > version  # other servers see a newer corpus version and reload
    got = ask(client, GAP)
    assert got["outcome"] == "answered" and got["sources"][0]["source"] == "FAQ" and "受付の掲示板" in got["answer"]
    record = services.store.manifest()[entry["doc_id"]]
    assert record.kind == "faq" and record.chunks == 1

    listed = client.get("/api/admin/faq", headers=AUTH).json()
    assert listed["total"] == 1 and listed["entries"][0]["question"] == GAP
    assert client.get("/api/admin/faq", params={"q": "掲示板"}, headers=AUTH).json()["total"] == 1
    assert client.get("/api/admin/faq", params={"q": "存在しない"}, headers=AUTH).json()["total"] == 0
    assert client.get(f"/api/admin/faq/{entry['id']}", headers=AUTH).json()["answer"] == WIFI_ANSWER

    r = client.put(
        f"/api/admin/faq/{entry['id']}",
        json={"question": GAP, "answer": "パスワードは総務部の山田が管理しています。", "category": "other"},
        headers=AUTH,
    )
    assert r.status_code == 200 and r.json()["answer"].startswith("パスワードは総務部")
    got = ask(client, GAP)
    assert "山田" in got["answer"] and "掲示板" not in got["answer"]

    r = client.delete(f"/api/admin/faq/{entry['id']}", headers=AUTH)
    assert r.status_code == 200 and r.json()["deleted"]["id"] == entry["id"]
    assert entry["doc_id"] not in services.store.manifest()
    got = ask(client, GAP)
    assert all(s["source"] != "FAQ" for s in got["sources"])
    assert client.get(f"/api/admin/faq/{entry['id']}", headers=AUTH).status_code == 404
    assert client.delete(f"/api/admin/faq/{entry['id']}", headers=AUTH).status_code == 404
    assert (
        client.put(f"/api/admin/faq/{entry['id']}", json={"question": "q", "answer": "a"}, headers=AUTH).status_code
        == 404
    )


def test_validation(api):
    client, _ = api
    for body in (
        {"question": "", "answer": "a"},
        {"question": "q"},
        {"question": "q", "answer": "   "},
        {"question": "q", "answer": "a", "category": "lunch"},
    ):
        r = client.post("/api/admin/faq", json=body, headers=AUTH)
        assert r.status_code == 422, body
    assert client.get("/api/admin/faq", headers=AUTH).json()["total"] == 0


def test_faq_entries_survive_a_pruning_reingest(api):
    client, services = api
    entry = client.post("/api/admin/faq", json={"question": GAP, "answer": WIFI_ANSWER}, headers=AUTH).json()
    r = client.post("/api/admin/ingest?prune=true", headers=AUTH)
    assert r.status_code == 200
    assert entry["doc_id"] in services.store.manifest()
    assert ask(client, GAP)["outcome"] == "answered"


def test_reindex_restores_the_searchable_copy(api):
    from ingest.pipeline import remove_document

    client, services = api
    entry = client.post("/api/admin/faq", json={"question": GAP, "answer": WIFI_ANSWER}, headers=AUTH).json()
    remove_document(
        store=services.store, doc_id=entry["doc_id"]
    )  # e.g. the chunk store was restored from an old backup
    remove_document(store=services.store, doc_id="faq:999")
    from ingest.loaders import FaqRow, LoadedDocument  # an orphan FAQ document whose entry no longer exists
    from ingest.chunker import chunk_document
    from ingest.pipeline import index_document

    doc = LoadedDocument(title="FAQ", faq=[FaqRow("消えた質問", "消えた回答", "other")])
    index_document(
        store=services.store,
        embedder=services.embedder,
        tokenizer=services.tokenizer,
        doc_id="faq:999",
        source="FAQ",
        doc=doc,
        drafts=chunk_document(doc),
        doc_hash="0" * 64,
        category="other",
        kind="faq",
    )
    r = client.post("/api/admin/faq/reindex", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"indexed": 1, "removed": 1, "entries": 1}
    manifest = services.store.manifest()
    assert entry["doc_id"] in manifest and "faq:999" not in manifest
    assert ask(client, GAP)["outcome"] == "answered"
    assert client.post("/api/admin/faq/reindex", headers=AUTH).json() == {"indexed": 0, "removed": 0, "entries": 1}


def test_export_csv_and_xlsx(api):
    client, _ = api
    client.post(
        "/api/admin/faq",
        json={
            "question": "名刺の発注方法は？",
            "answer": "総務ポータルから申請します。\n2営業日で届きます。",
            "category": "備品",
        },
        headers=AUTH,
    )
    client.post(
        "/api/admin/faq", json={"question": "=1+1", "answer": "計算式ではなく文字列", "category": "other"}, headers=AUTH
    )
    r = client.get("/api/admin/faq.csv", headers=AUTH)
    assert (
        r.status_code == 200
        and r.content.startswith(b"\xef\xbb\xbf")
        and "attachment" in r.headers["content-disposition"]
    )
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["question", "answer", "category"]
    assert rows[1] == ["名刺の発注方法は？", "総務ポータルから申請します。\n2営業日で届きます。", "supplies"]
    r = client.get("/api/admin/faq.xlsx", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert (
        values[0] == ["question", "answer", "category"]
        and values[1][0] == "名刺の発注方法は？"
        and values[2][0] == "=1+1"
    )
    assert sheet["A3"].data_type == "s"  # a string cell, not a formula


def test_import_csv_xlsx_and_reimport_of_an_export(api):
    client, services = api
    text = (
        "質問,回答,カテゴリ\n名刺の発注方法は？,総務ポータルから申請します。,備品\n,回答だけ,other\n社用車の予約は？,予約システムで行います。,lunch\n"
        "健康診断はいつ？,毎年6月です。,\n"
    )
    r = client.post(
        "/api/admin/faq/import", files={"file": ("faq.csv", text.encode("cp932"), "text/csv")}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert [e["row"] for e in report["errors"]] == [3, 4]
    entries = {e["question"]: e for e in client.get("/api/admin/faq", headers=AUTH).json()["entries"]}
    assert (
        entries["名刺の発注方法は？"]["category"] == "supplies" and entries["健康診断はいつ？"]["category"] == "other"
    )
    assert ask(client, "健康診断はいつありますか")["sources"][0]["source"] == "FAQ"

    export = client.get("/api/admin/faq.xlsx", headers=AUTH).content
    r = client.post(
        "/api/admin/faq/import", files={"file": ("faq.xlsx", export, "application/octet-stream")}, headers=AUTH
    )
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 2, "errors": []}

    wb = openpyxl.Workbook()
    wb.active.append(["question", "answer", "category"])
    wb.active.append(["健康診断はいつ？", "毎年10月に変わりました。", "other"])
    wb.active.append(["駐車場の申請は？", "総務部へ申請書を出します。", "other"])
    buf = io.BytesIO()
    wb.save(buf)
    version = services.index.snapshot.version
    r = client.post(
        "/api/admin/faq/import", files={"file": ("new.xlsx", buf.getvalue(), "application/octet-stream")}, headers=AUTH
    )
    assert r.json() == {"created": 1, "updated": 1, "unchanged": 0, "errors": []}
    assert services.index.snapshot.version == version + 1  # one import, one new corpus version
    assert "10月" in ask(client, "健康診断はいつ？")["answer"]
    assert client.get("/api/admin/faq", headers=AUTH).json()["total"] == 3


def test_import_refuses_bad_files(api):
    client, _ = api
    cases = [("faq.pdf", b"%PDF-1.4"), ("faq.csv", b"foo,bar\n1,2\n"), ("faq.xlsx", b"not a zip"), ("faq.csv", b"")]
    for name, data in cases:
        r = client.post("/api/admin/faq/import", files={"file": (name, data, "application/octet-stream")}, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"] == "bad_faq_file", name
