"""Hardening (issue 13): bad input is a 4xx JSON error, never a 500; uploads are validated as a batch before any
file is written; request bodies are bounded before they are read; the Slack endpoint checks the signature before
parsing; exports neutralize spreadsheet formulas."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import select
import socket
import time
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
        resp = client.post(
            "/api/ask", content=raw, headers={"Content-Type": "application/json", "Accept-Language": lang}
        )
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
    resp = client.post(
        "/api/admin/ingest", content=b'{"paths": [', headers={**AUTH, "Content-Type": "application/json"}
    )
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

GOOD = (
    "files",
    ("会議室規程.md", "# 会議室規程\n\n## 第1条\n\n会議室は2時間まで予約できる。\n".encode(), "text/markdown"),
)


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
    resp = client.post(
        "/api/admin/ingest", headers=AUTH, files=[GOOD, bad, GOOD[:1] + (("b.txt", b"text", "text/plain"),)]
    )
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


# ----------------------------------------------------------------------------- request bodies: bounded before read


@pytest.fixture
def small(fast_services, tmp_path):
    """The app with small body limits: 2 KiB for the public routes, 8 KiB for uploads."""
    services = build(fast_services, tmp_path, max_request_bytes=2048, max_upload_bytes=8192)
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(services.settings, services=services), raise_server_exceptions=False) as client:
        yield client, services


def _padded_question(size: int) -> bytes:
    body = json.dumps({"question": "有給休暇は何日？", "user_id": "U1", "pad": "x" * size}).encode()
    return body


def test_the_default_limits():
    from app.settings import Settings

    s = Settings(_env_file=None)
    assert s.max_request_bytes == 64 * 1024 and s.max_upload_bytes == 50 * 1024 * 1024


def test_env_names_of_the_body_limit(monkeypatch):
    from app.settings import Settings

    monkeypatch.setenv("MADOGUCHI_MAX_BODY_BYTES", "4096")  # the name issue 13 gives; MADOGUCHI_MAX_REQUEST_BYTES too
    assert Settings(_env_file=None).max_request_bytes == 4096
    monkeypatch.setenv("MADOGUCHI_MAX_REQUEST_BYTES", "8192")
    assert Settings(_env_file=None).max_request_bytes == 8192


def test_an_ask_body_over_the_limit_is_a_bilingual_413_by_content_length(small):
    client, services = small
    assert (
        client.post(
            "/api/ask", content=_padded_question(1000), headers={"Content-Type": "application/json"}
        ).status_code
        == 200
    )
    for lang, word in (("ja", "大きすぎ"), ("en", "too large")):
        resp = client.post(
            "/api/ask",
            content=_padded_question(3000),
            headers={"Content-Type": "application/json", "Accept-Language": lang},
        )
        body = _is_json_error(resp, 413)
        assert body["error"] == "payload_too_large" and word in body["detail"] and "2 KiB" in body["detail"]


def test_an_ask_body_over_the_limit_is_a_413_while_streaming_without_content_length(small):
    client, services = small
    pulled = []

    def chunks():
        for _ in range(100):  # 100 KiB offered, in 1 KiB pieces
            pulled.append(1)
            yield b" " * 1024

    resp = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in resp.request.headers}
    assert _is_json_error(resp, 413)["error"] == "payload_too_large"


def test_uploads_take_the_upload_limit_and_json_routes_the_small_one(small):
    client, services = small
    ok = client.post(
        "/api/admin/ingest",
        headers=AUTH,
        files=[("files", ("a.md", ("# 見出し\n\n" + "本文。" * 300).encode(), "text/markdown"))],
    )
    assert ok.status_code == 200, ok.text  # ≈ 2.7 KiB: over the small limit, under the upload limit
    big = client.post(
        "/api/admin/ingest",
        headers=AUTH,
        files=[("files", ("b.md", ("# 見出し\n\n" + "本文。" * 1000).encode(), "text/markdown"))],
    )
    assert _is_json_error(big, 413)["error"] == "payload_too_large"
    assert "b.md" not in _docs_files(services)
    # Feedback is a public route: the small limit.
    fb = client.post(
        "/api/feedback",
        content=b'{"query_id": "x", "helpful": true, "pad": "' + b"x" * 4000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert fb.status_code == 413


class _RawHttp:
    """One HTTP/1.1 request over a plain socket, its body sent slowly, to see when the server answers."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def send_head(self, path: str, headers: dict[str, str]) -> None:
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        self.sock.sendall("\r\n".join(lines).encode())

    def send_until_answered(self, chunk: bytes, most: int) -> tuple[int, bytes]:
        """Send `chunk` until the server answers or `most` bytes went; returns (bytes sent, the answer so far)."""
        sent = 0
        self.sock.setblocking(False)
        poller = select.poll()  # not select.select: the full suite holds file descriptors past 1024
        poller.register(self.sock, select.POLLIN)
        try:
            while sent < most:
                if poller.poll(0):
                    break
                try:
                    sent += self.sock.send(chunk)
                except (BlockingIOError, InterruptedError):
                    time.sleep(0.01)
                except (BrokenPipeError, ConnectionResetError):
                    break
        finally:
            self.sock.setblocking(True)
        return sent, self.read_answer()

    def read_answer(self) -> bytes:
        data = b""
        self.sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
                piece = self.sock.recv(65536)
                if not piece:
                    break
                data += piece
        except (TimeoutError, ConnectionResetError):
            pass
        return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def uvicorn_app(fast_services, tmp_path):
    from tests.support.querylog import ServedApp

    services = build(fast_services, tmp_path, max_upload_bytes=1024 * 1024)
    with ServedApp(services) as served_app:
        yield served_app, services


HUGE = 600 * 1024 * 1024
MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz", "Content-Length": str(HUGE)}


@pytest.mark.parametrize(
    "path, headers, status",
    [
        ("/api/admin/ingest", {}, b"401"),
        ("/api/admin/ingest", {"Authorization": "Bearer wrong"}, b"401"),
        ("/api/admin/faq/import", {}, b"401"),
        ("/console/documents/upload", {}, b"303"),
        ("/console/faq/import", {"Cookie": "madoguchi_console=forged.sig"}, b"303"),
        ("/console/login", {}, b"413"),  # open, but a form: 1 MiB at most
        ("/api/ask", {}, b"413"),
        ("/api/admin/ingest", {"Authorization": "Bearer test-admin-token"}, b"413"),  # over the 1 MiB upload limit
    ],
)
def test_a_huge_body_is_answered_before_the_server_reads_it(uvicorn_app, path, headers, status):
    served_app, services = uvicorn_app
    conn = _RawHttp(served_app.port)
    try:
        conn.send_head(path, {**MULTIPART, **headers})
        sent, answer = conn.send_until_answered(b"-" * 65536, most=64 * 1024 * 1024)
    finally:
        conn.close()
    assert answer.split(b" ", 2)[1] == status, answer[:300]
    assert sent < 16 * 1024 * 1024, f"the server read {sent} bytes before answering"
    assert b"connection: close" in answer.lower()
    assert _docs_files(services) == ["就業規則.md", "経費精算規程.md"]


def test_an_authorized_upload_streamed_past_the_limit_is_a_413(uvicorn_app):
    served_app, services = uvicorn_app
    conn = _RawHttp(served_app.port)
    try:
        conn.send_head(
            "/api/admin/ingest",
            {
                "Content-Type": "multipart/form-data; boundary=xyz",
                "Transfer-Encoding": "chunked",
                "Authorization": "Bearer test-admin-token",
            },
        )
        part = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.md"\r\n\r\n'
        conn.sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
        sent, answer = conn.send_until_answered(chunk, most=64 * 1024 * 1024)
    finally:
        conn.close()
    assert answer.split(b" ", 2)[1] == b"413", answer[:300]
    assert b"payload_too_large" in answer
    assert sent < 16 * 1024 * 1024


# ------------------------------------------------------------------------- Slack: the signature before the body

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def slack_app(fast_services, tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.support.slack_api import FakeSlack

    with FakeSlack() as fake:
        services = build(
            fast_services,
            tmp_path,
            slack_bot_token="xoxb-test",
            slack_signing_secret=SLACK_SECRET,
            slack_api_url=fake.api_url,
            max_request_bytes=4096,
        )
        with TestClient(create_app(services.settings, services=services), raise_server_exceptions=False) as client:
            yield client, fake


MALFORMED = [
    (b"{not json", "application/json"),
    (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
    (b"payload=" + b"%ff%fe" * 10, "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b"", "application/json"),
]


@pytest.mark.parametrize("body, content_type", MALFORMED)
@pytest.mark.parametrize("signature", ["none", "invalid"])
def test_slack_events_with_a_malformed_body_and_no_valid_signature_are_401_without_a_traceback(
    slack_app, caplog, body, content_type, signature
):
    from tests.support.slack_api import signed_headers

    client, fake = slack_app
    headers = {"Content-Type": content_type}
    if signature == "invalid":
        headers = signed_headers("not-the-secret", body.decode("latin-1"), content_type=content_type)
        headers["Content-Type"] = content_type
    with caplog.at_level("DEBUG"):
        resp = client.post("/slack/events", content=body, headers=headers)
    assert resp.status_code == 401, resp.text
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()], [
        r.getMessage() for r in caplog.records
    ]
    assert fake.calls_to("chat.postMessage") == []


def test_slack_events_over_the_body_limit_are_413_before_the_signature_is_checked(slack_app):
    client, _ = slack_app
    resp = client.post("/slack/events", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"})
    assert _is_json_error(resp, 413)["error"] == "payload_too_large"


@pytest.mark.parametrize("body, content_type", [m for m in MALFORMED if m[0][:1] != b"\xff"])
def test_a_signed_malformed_slack_body_is_a_4xx_without_a_traceback(slack_app, caplog, body, content_type):
    from tests.support.slack_api import signed_headers

    client, fake = slack_app
    headers = signed_headers(SLACK_SECRET, body.decode("utf-8"), content_type=content_type)
    with caplog.at_level("DEBUG"):
        resp = client.post("/slack/events", content=body, headers=headers)
    assert 400 <= resp.status_code < 500, resp.text
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert fake.calls_to("chat.postMessage") == []


# ------------------------------------------------------------------------------- exports: never a formula in Excel

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
NASTY = [
    '=HYPERLINK("http://evil","x")',
    "+81-3-0000",
    "-2+3",
    "@SUM(A1)",
    "＝１＋１",
    "＋８１",
    "－５",
    "＠channel",
    "=cmd|' /C calc'!A0",
]


def _csv_rows(resp) -> list[dict]:
    assert resp.status_code == 200, resp.text
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))


def test_the_faq_csv_neutralizes_formulas_in_every_cell_and_reads_back_the_same(served):
    client, services = served
    stored = []
    for i, text in enumerate(NASTY):
        made = client.post(
            "/api/admin/faq", headers=AUTH, json={"question": f"{text} 質問{i}", "answer": f"{text} 回答"}
        )
        assert made.status_code == 201, made.text
        stored.append(made.json())
    rows = _csv_rows(client.get("/api/admin/faq.csv", headers=AUTH))
    assert len(rows) == len(NASTY)
    for row, entry in zip(rows, stored):
        for column in ("question", "answer"):
            assert not row[column].startswith(FORMULA_STARTS), row
            assert row[column] == "'" + entry[column], (row, entry)
    # The staff's round trip (export, edit, import) gives back the text, not the apostrophes.
    resp = client.post(
        "/api/admin/faq/import",
        headers=AUTH,
        files={"file": ("faq.csv", client.get("/api/admin/faq.csv", headers=AUTH).content, "text/csv")},
    )
    assert resp.status_code == 200, resp.text
    after = client.get("/api/admin/faq", headers=AUTH).json()["entries"]
    assert sorted(e["question"] for e in after) == sorted(e["question"] for e in stored)


def test_the_faq_csv_neutralizes_a_leading_tab_or_carriage_return():
    from app.ops.faq_files import faq_csv
    from app.store.querylog_faq import FaqEntry

    blank = {f.name: None for f in dataclasses.fields(FaqEntry)}
    entry = FaqEntry(**{**blank, "id": 1, "question": "\tq", "answer": "\ra", "category": "other"})
    row = list(csv.reader(io.StringIO(faq_csv([entry]).decode("utf-8-sig"))))[1]
    assert row[:2] == ["'\tq", "'\ra"]


def test_the_queries_csv_neutralizes_full_width_formulas_too(served):
    client, _ = served
    assert client.post("/api/ask", json={"question": '＝HYPERLINK("http://evil") 有給'}).status_code == 200
    rows = _csv_rows(client.get("/api/admin/queries.csv", headers=AUTH))
    assert rows[0]["question"] == '\'＝HYPERLINK("http://evil") 有給'


# ------------------------------------------------------------------------------------- abuse: questions per asker


@pytest.fixture
def limited(fast_services, tmp_path):
    services = build(fast_services, tmp_path, rate_limit_per_minute=3)
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(services.settings, services=services), raise_server_exceptions=False) as client:
        yield client, services


def test_the_default_rate_limit_is_30_questions_a_minute():
    from app.settings import Settings

    assert Settings(_env_file=None).rate_limit_per_minute == 30


def test_one_asker_past_the_limit_gets_a_polite_429_with_retry_after_and_others_do_not(limited):
    client, services = limited
    for _ in range(3):
        assert client.post("/api/ask", json={"question": "有給休暇は何日？", "user_id": "U1"}).status_code == 200
    for lang, word in (("ja", "お試しください"), ("en", "Please wait")):
        resp = client.post(
            "/api/ask", json={"question": "有給休暇は何日？", "user_id": "U1"}, headers={"Accept-Language": lang}
        )
        body = _is_json_error(resp, 429)
        assert body["error"] == "rate_limited" and word in body["detail"]
        assert 1 <= int(resp.headers["Retry-After"]) <= 20  # one token comes back every 20 s at 3 a minute
    # Another user, and askers without a user id (keyed by their address), have their own buckets.
    assert client.post("/api/ask", json={"question": "有給休暇は何日？", "user_id": "U2"}).status_code == 200
    for _ in range(3):
        assert client.post("/api/ask", json={"question": "有給休暇は何日？"}).status_code == 200
    assert client.post("/api/ask", json={"question": "有給休暇は何日？"}).status_code == 429
    # A refused question is not answered, so it is not in the query log.
    assert services.query_log.count() == 7


def test_a_token_bucket_refills_with_time_and_forgets_full_buckets():
    from app.ops.ratelimit import TokenBuckets

    now = [1000.0]
    buckets = TokenBuckets(per_minute=2, clock=lambda: now[0], max_keys=2)
    assert buckets.take("a") is None and buckets.take("a") is None
    assert buckets.take("a") == pytest.approx(30.0)
    now[0] += 30
    assert buckets.take("a") is None
    assert buckets.take("a") == pytest.approx(30.0)
    buckets.take("b")
    now[0] += 120  # a and b are full again: nothing to remember about them
    buckets.take("c")
    assert set(buckets._buckets) <= {"c", "b", "a"} and len(buckets._buckets) <= 2
    assert TokenBuckets(per_minute=0).take("x") is None  # 0: no limit
