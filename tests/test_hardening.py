"""Hardening (issue 13): bad input is a 4xx JSON error, never a 500; uploads are validated as a batch before any
file is written; request bodies are bounded before they are read; the Slack endpoint checks the signature before
parsing; exports neutralize spreadsheet formulas."""

from __future__ import annotations

import unicodedata

import pytest

from tests.support.querylog import AUTH, build, client_for


@pytest.fixture
def served(fast_services, tmp_path):
    """(TestClient, services) over the tiny corpus, fast tier, admin token set; the client re-raises nothing, so a
    500 is seen as a 500."""
    services = build(fast_services, tmp_path)
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(services.settings, services=services), raise_server_exceptions=False) as client:
        yield client, services


# --------------------------------------------------------------------------------------------- no 500 on bad input

def _is_json_error(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] and body["detail"] and body["detail_en"]
    return body


def test_a_lone_surrogate_in_the_question_is_a_bilingual_422(served):
    client, _ = served
    raw = b'{"question": "\\ud800 \xe6\x9c\x89\xe7\xb5\xa6\xe4\xbc\x91\xe6\x9a\x87"}'
    for lang, word in (("ja", "文字"), ("en", "character")):
        resp = client.post("/api/ask", content=raw, headers={"Content-Type": "application/json", "Accept-Language": lang})
        body = _is_json_error(resp, 422)
        assert word in body["detail"], body


@pytest.mark.parametrize(
    "method, url, body",
    [
        ("post", "/api/feedback", '{"query_id": "\\ud800", "helpful": true}'),
        ("post", "/api/admin/faq", '{"question": "\\udfff?", "answer": "a"}'),
        ("put", "/api/admin/glossary/PC", '{"formal": "\\ud83d"}'),
        ("post", "/api/admin/queries/x/resolve", '{"answer": "\\ud800"}'),
        ("post", "/api/admin/ingest", '{"paths": ["\\ud800.md"]}'),
    ],
)
def test_lone_surrogates_are_refused_on_every_json_route(served, method, url, body):
    client, _ = served
    resp = getattr(client, method)(url, content=body.encode(), headers={**AUTH, "Content-Type": "application/json"})
    _is_json_error(resp, 422)


def test_a_huge_page_number_is_a_422(served):
    client, _ = served
    resp = client.get("/api/admin/queries", params={"page": "99999999999999999999"}, headers=AUTH)
    _is_json_error(resp, 422)


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_a_huge_faq_id_is_a_404_or_422(served, method):
    client, _ = served
    kwargs = {"json": {"question": "q", "answer": "a"}} if method == "put" else {}
    resp = getattr(client, method)("/api/admin/faq/99999999999999999999", headers=AUTH, **kwargs)
    assert resp.status_code in (404, 422), resp.text
    _is_json_error(resp, resp.status_code)


def test_invalid_json_to_the_admin_ingest_is_a_422(served):
    client, services = served
    before = services.last_ingest
    resp = client.post("/api/admin/ingest", content=b'{"paths": [', headers={**AUTH, "Content-Type": "application/json"})
    body = _is_json_error(resp, 422)
    assert body["error"] == "bad_json"
    assert services.last_ingest == before, "nothing was ingested"


def test_a_300_character_file_name_is_a_422_that_says_it_is_too_long(served):
    client, services = served
    name = "あ" * 296 + ".txt"
    resp = client.post("/api/admin/ingest", headers=AUTH, files=[("files", (name, "本文".encode(), "text/plain"))])
    body = _is_json_error(resp, 422)
    assert body["error"] == "filename_too_long"
    assert "too long" in body["detail_en"] and "長すぎ" in body["detail"]
    assert sorted(p.name for p in services.settings.docs_dir.iterdir()) == ["就業規則.md", "経費精算規程.md"]


# ------------------------------------------------------------------------------------- uploads: the batch is checked whole

GOOD = ("files", ("会議室規程.md", "# 会議室規程\n\n## 第1条\n\n会議室は2時間まで予約できる。\n".encode(), "text/markdown"))


def _docs_files(services) -> list[str]:
    return sorted(p.name for p in services.settings.docs_dir.iterdir())


@pytest.mark.parametrize(
    "bad, code",
    [
        (("files", ("い" * 100 + ".md", b"# x\n\ny\n", "text/markdown")), "filename_too_long"),
        (("files", ("slides.pptx", b"PK\x03\x04", "application/octet-stream")), "unsupported_type"),
        (("files", (".hidden.md", b"# x\n\ny\n", "text/markdown")), "bad_filename"),
    ],
)
def test_one_bad_file_refuses_the_whole_batch_before_anything_is_written(served, bad, code):
    client, services = served
    before = _docs_files(services)
    resp = client.post("/api/admin/ingest", headers=AUTH, files=[GOOD, bad, GOOD[:1] + (("b.txt", b"text", "text/plain"),)])
    body = _is_json_error(resp, 422)
    assert body["error"] == code
    assert "nothing was saved" in body["detail_en"] and "何も保存" in body["detail"]
    assert _docs_files(services) == before, "no file of a refused batch was written (not even a temporary one)"
    # Nothing of the refused batch comes in later either: the next folder ingest sees only the old files.
    report = client.post("/api/admin/ingest", headers=AUTH).json()
    assert sorted(f["doc_id"] for f in report["files"]) == ["就業規則.md", "経費精算規程.md"]


def test_every_refused_file_is_named_and_nfd_nfc_spellings_are_one_name(served):
    client, services = served
    nfc, nfd = "ガイド.md", unicodedata.normalize("NFD", "ガイド.md")
    assert nfc != nfd
    files = [
        ("files", (nfc, b"# a\n\nb\n", "text/markdown")),
        ("files", (nfd, b"# a\n\nc\n", "text/markdown")),
        ("files", ("tool.exe", b"MZ", "application/octet-stream")),
    ]
    body = _is_json_error(client.post("/api/admin/ingest", headers=AUTH, files=files), 422)
    assert body["error"] == "upload_refused"
    assert "tool.exe" in body["detail_en"] and "Two files of this name" in body["detail_en"]
    assert "同じ名前" in body["detail"] and "対応していない" in body["detail"]
    # Alone, the NFD spelling is saved under its NFC name.
    ok = client.post("/api/admin/ingest", headers=AUTH, files=[files[1]])
    assert ok.status_code == 200, ok.text
    assert nfc in _docs_files(services) and nfd not in _docs_files(services)
