"""HTTP API (app/main.py, app/api/*) through a real TestClient with the real lifespan: /api/ask (shape, validation
422s with clear messages in both languages), /healthz, /readyz, and the admin routes (401 / off when the token is
unset, upload, folder re-ingest with prune, document list)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app

TOKEN = "s3cret-admin-token"
API_KEYS = {"query_id", "question", "answer", "outcome", "confidence", "category", "sources"}
SOURCE_KEYS = {"source", "title", "section", "page", "snippet", "score"}


@pytest.fixture(scope="module")
def client(sample_services):
    """The sample manuals behind a running app (read-only: no admin token, so nothing here can ingest)."""
    with TestClient(create_app(sample_services.settings, services=sample_services)) as c:
        yield c


def ask(client, payload, **headers):
    return client.post("/api/ask", json=payload, headers=headers)


# ------------------------------------------------------------------------------------------ health


def test_healthz_and_readyz(client, sample_services):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["chunks"] == len(sample_services.index.snapshot) > 100
    assert body["corpus_version"] == sample_services.index.snapshot.version >= 1


def test_readyz_is_503_until_the_index_is_loaded(make_settings, free_port_):
    """A server whose store cannot be reached starts, stays alive (/healthz) but is not ready and does not answer."""
    settings = make_settings(chroma_url=f"http://127.0.0.1:{free_port_}", refresh_interval_s=60)
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready" and ready.json()["detail"]
        resp = c.post("/api/ask", json={"question": "有給はいつから？"})
        assert resp.status_code == 503
        assert resp.json()["error"] in ("store_unavailable", "not_ready")
        assert "しばらくしてから" in resp.json()["detail"]


@pytest.fixture
def free_port_():
    from tests.conftest import free_port

    return free_port()


# ------------------------------------------------------------------------------------------ /api/ask


def test_ask_returns_the_documented_json(client):
    resp = ask(client, {"question": "  出張の日当はいくら？  ", "user_id": "U123", "channel": "api"})
    assert resp.status_code == 200
    body = resp.json()
    assert API_KEYS <= set(body)
    assert re.fullmatch(r"[0-9a-f]{32}", body["query_id"])
    assert body["question"] == "出張の日当はいくら？", "the question is echoed trimmed"
    assert body["outcome"] == "answered"
    assert 0.0 <= body["confidence"] <= 1.0
    assert body["category"] == "expense"
    assert body["sources"] and all(SOURCE_KEYS <= set(s) for s in body["sources"])
    top = body["sources"][0]
    assert top["source"] in ("経費精算規程.docx", "よくある質問.xlsx")
    assert "2,000円" in top["snippet"] and "2,000円" in body["answer"]
    scores = [s["score"] for s in body["sources"]]
    assert scores == sorted(scores, reverse=True)


def test_ask_cites_the_pdf_page(client):
    body = ask(client, {"question": "勤続3年半になったら有給は何日もらえるの？"}).json()
    pdf = [s for s in body["sources"] if s["source"] == "勤怠管理規程.pdf"]
    assert pdf and all(isinstance(s["page"], int) and s["page"] >= 1 for s in pdf)
    faq = [s for s in body["sources"] if s["source"] == "よくある質問.xlsx"]
    assert all(s["page"] is None for s in faq)


def test_ask_with_a_category_filter(client, sample_services):
    category_of = {(c.source, c.section): c.category for c in sample_services.index.snapshot.chunks}
    unfiltered = ask(client, {"question": "申請はいつまでに出せばいいですか？"}).json()
    assert {category_of[(s["source"], s["section"])] for s in unfiltered["sources"]} != {"expense"}
    body = ask(client, {"question": "申請はいつまでに出せばいいですか？", "category": "経費"}).json()
    assert body["category"] == "expense"
    assert body["sources"]
    assert {category_of[(s["source"], s["section"])] for s in body["sources"]} == {"expense"}
    assert "経費精算規程.docx" in {s["source"] for s in body["sources"]}


@pytest.mark.parametrize(
    ("question", "code", "ja", "en"),
    [
        ("", "empty_question", "質問が空です", "The question is empty."),
        ("   \n\t　", "empty_question", "質問が空です", "The question is empty."),
        ("あ" * 2001, "question_too_long", "2001文字", "2001 characters; at most 2000"),
    ],
)
def test_bad_questions_get_a_clear_422_in_both_languages(client, question, code, ja, en):
    resp = ask(client, {"question": question})
    assert resp.status_code == 422
    assert resp.json()["error"] == code
    assert ja in resp.json()["detail"]
    assert en in resp.json()["detail_en"]
    resp_en = ask(client, {"question": question}, **{"Accept-Language": "en-US,en;q=0.9"})
    assert resp_en.status_code == 422 and en in resp_en.json()["detail"]


def test_a_question_of_exactly_2000_characters_is_accepted(client):
    question = ("有給休暇の申請について教えてください。" * 200)[:2000]
    resp = ask(client, {"question": question})
    assert resp.status_code == 200
    assert resp.json()["outcome"] in ("answered", "escalated")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "question"),
        ({"question": None}, "question"),
        ({"question": ["有給"]}, "question"),
        ({"question": "有給", "user_id": "u" * 201}, "user_id"),
        ({"question": "有給", "channel": "c" * 51}, "channel"),
    ],
)
def test_malformed_requests_name_the_field(client, payload, field):
    resp = ask(client, payload)
    assert resp.status_code == 422
    body = resp.json()
    assert body["error"] == "validation_error"
    assert field in body["detail"] and body["detail"].startswith("リクエストが不正です")
    assert field in body["detail_en"] and body["detail_en"].startswith("Invalid request")


def test_a_body_that_is_not_json_is_a_422(client):
    resp = client.post("/api/ask", content=b"question=hello", headers={"content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["error"] == "validation_error"


def test_an_unknown_category_lists_the_valid_ones(client):
    resp = ask(client, {"question": "有給はいつから？", "category": "food"})
    assert resp.status_code == 422
    body = resp.json()
    assert body["error"] == "bad_category"
    for name in ("attendance", "expense", "supplies", "other"):
        assert name in body["detail_en"]
    assert "勤怠" in body["detail"]


# ------------------------------------------------------------------------------------------ admin


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "来客対応規程.md").write_text(
        "---\ncategory: other\n---\n# 来客対応規程\n\n## 第1条（受付）\n\n来客は1階の受付で入館証を受け取り、訪問先の社員が受付まで迎えに行く。\n",
        encoding="utf-8",
    )
    (folder / "駐輪場規程.txt").write_text(
        "駐輪場規程\n\n第1条（利用）\n自転車通勤者は、総務部に届け出て駐輪ステッカーの交付を受けなければならない。\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def admin(make_services, docs):
    services = make_services(docs_dir=docs, admin_token=TOKEN, with_log=False)
    services.ingest(paths=[docs])
    with TestClient(create_app(services.settings, services=services)) as c:
        c.services = services
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_admin_routes_are_off_when_the_token_is_unset(client):
    for method, url in (("get", "/api/admin/documents"), ("post", "/api/admin/ingest")):
        for headers in ({}, AUTH, {"Authorization": "Bearer "}):
            resp = getattr(client, method)(url, headers=headers)
            assert resp.status_code == 404, (url, headers, resp.text)
            assert resp.json()["error"] == "admin_disabled"
            assert "MADOGUCHI_ADMIN_TOKEN" in resp.json()["detail"]
    # Only this server's own CLI gets in, with the random local token the server wrote to <data_dir>/server.json.
    local = client.app.state.local_token
    if client.app.state.settings.chroma_url:
        return  # a Chroma server store has no run file and no local token
    assert local and len(local) >= 24
    listed = client.get("/api/admin/documents", headers={"Authorization": f"Bearer {local}"})
    assert listed.status_code == 200 and len(listed.json()["documents"]) == 6


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"])
def test_admin_routes_need_the_bearer_token(admin, header):
    headers = {"Authorization": header} if header else {}
    for resp in (admin.get("/api/admin/documents", headers=headers), admin.post("/api/admin/ingest", headers=headers)):
        assert resp.status_code == 401
        assert resp.json()["error"] == "unauthorized"
        assert "Authorization: Bearer" in resp.json()["detail_en"] and "管理トークン" in resp.json()["detail"]
    assert admin.services.last_ingest["counts"] == {"added": 2}, "nothing was ingested by a refused request"


def test_admin_documents_lists_what_is_indexed(admin, docs):
    resp = admin.get("/api/admin/documents", headers=AUTH)
    assert resp.status_code == 200
    docs_list = {d["source"]: d for d in resp.json()["documents"]}
    assert set(docs_list) == {"来客対応規程.md", "駐輪場規程.txt"}
    md = docs_list["来客対応規程.md"]
    assert md["title"] == "来客対応規程" and md["category"] == "other" and md["status"] == "ok"
    assert md["chunks"] == 1 and md["hash"] == hashlib.sha256((docs / "来客対応規程.md").read_bytes()).hexdigest()
    assert md["ingested_at"] > 1.7e9
    assert resp.json()["corpus_version"] == 1


def test_admin_upload_ingests_at_once_and_rejects_what_it_cannot_take(admin, docs, tmp_path):
    files = [
        (
            "files",
            (
                "../../会議室規程.md",
                "# 会議室規程\n\n## 第1条（予約）\n\n会議室はみどりポータルの会議室予約から2時間まで予約できる。\n".encode(),
                "text/markdown",
            ),
        ),
        ("files", ("empty.txt", b"", "text/plain")),
    ]
    # A file of a type it cannot take refuses the whole batch before anything is written (tests/test_hardening.py).
    refused = admin.post(
        "/api/admin/ingest",
        headers=AUTH,
        files=[*files, ("files", ("slides.pptx", b"PK\x03\x04", "application/octet-stream"))],
    )
    assert (
        refused.status_code == 422
        and "Unsupported" in refused.json()["detail_en"]
        and "slides.pptx" in refused.json()["detail_en"]
    )
    assert not (docs / "会議室規程.md").exists()
    resp = admin.post("/api/admin/ingest", headers=AUTH, files=files)
    assert resp.status_code == 200
    report = resp.json()
    by_name = {f["doc_id"]: f for f in report["files"]}
    assert by_name["会議室規程.md"]["status"] == "added"
    assert by_name["来客対応規程.md"]["status"] == "unchanged"
    assert by_name["empty.txt"]["status"] == "failed" and "empty" in by_name["empty.txt"]["error"]
    assert report["failed"] == 1
    # The upload lands in the docs folder under its base name only: no path escapes it.
    assert (docs / "会議室規程.md").exists() and not (tmp_path / "会議室規程.md").exists()
    assert not (docs / "slides.pptx").exists()

    listed = {d["source"]: d for d in admin.get("/api/admin/documents", headers=AUTH).json()["documents"]}
    assert listed["会議室規程.md"]["status"] == "ok" and listed["会議室規程.md"]["chunks"] == 1
    assert listed["empty.txt"]["status"] == "failed" and "empty" in listed["empty.txt"]["error"]

    body = admin.post("/api/ask", json={"question": "会議室は何時間まで予約できますか？"}).json()
    assert body["sources"][0]["source"] == "会議室規程.md"
    assert "2時間" in body["sources"][0]["snippet"]


def test_admin_upload_without_files_is_a_422(admin):
    resp = admin.post("/api/admin/ingest", headers=AUTH, data={"other": "x"}, files={"note": ("a.txt", b"x")})
    assert resp.status_code == 422 and resp.json()["error"] == "no_files"


def test_admin_reingests_the_folder_and_prunes(admin, docs):
    again = admin.post("/api/admin/ingest", headers=AUTH).json()
    assert {f["doc_id"]: f["status"] for f in again["files"]} == {
        "来客対応規程.md": "unchanged",
        "駐輪場規程.txt": "unchanged",
    }
    assert again["failed"] == 0 and again["version"] == 1

    (docs / "駐輪場規程.txt").unlink()
    (docs / "来客対応規程.md").write_text(
        "# 来客対応規程\n\n## 第1条（受付）\n\n来客は2階の受付で入館証を受け取る。\n", encoding="utf-8"
    )
    pruned = admin.post("/api/admin/ingest?prune=true", headers=AUTH).json()
    assert {f["doc_id"]: f["status"] for f in pruned["files"]} == {
        "来客対応規程.md": "updated",
        "駐輪場規程.txt": "removed",
    }
    assert pruned["version"] == 2
    listed = admin.get("/api/admin/documents", headers=AUTH).json()
    assert [d["source"] for d in listed["documents"]] == ["来客対応規程.md"]
    assert listed["corpus_version"] == 2
    body = admin.post("/api/ask", json={"question": "来客はどこで入館証を受け取りますか？"}).json()
    assert "2階の受付" in body["sources"][0]["snippet"]
    assert not any("1階" in s["snippet"] for s in body["sources"])
    assert all(s["source"] != "駐輪場規程.txt" for s in body["sources"])


def test_admin_ingest_of_server_side_paths_as_json(admin, docs, tmp_path):
    extra = docs / "extra.md"  # only paths inside MADOGUCHI_DOCS_DIR (tests/test_scoping.py has the refusals)
    extra.write_text("# 防災規程\n\n## 第1条（避難）\n\n避難訓練は毎年9月に実施する。\n", encoding="utf-8")
    resp = admin.post("/api/admin/ingest", headers=AUTH, json={"paths": [str(extra)], "prune": False})
    assert resp.status_code == 200
    assert [(f["doc_id"], f["status"]) for f in resp.json()["files"]] == [("extra.md", "added")]
    bad = admin.post("/api/admin/ingest", headers=AUTH, json={"paths": str(extra)})
    assert bad.status_code == 422 and bad.json()["error"] == "bad_paths"
