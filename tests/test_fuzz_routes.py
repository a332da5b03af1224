"""No 500 anywhere (issue 13): every route of the app (enumerated from `app.routes`, so a new route is covered when
it is added) gets a fixed table of nasty values — in its path parameters, its query string and its body (JSON and
form) — with admin credentials and a console session, so the values reach the handlers. Every answer is < 500,
and every answer of an API route that is an error is our JSON error shape."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support.querylog import AUTH, TOKEN, build, result

NASTY = [
    "\ud800",  # a lone surrogate
    "x\udfffy",
    "99999999999999999999999999999999",
    "-99999999999999999999",
    "-1",
    "0",
    "1e309",
    "NaN",
    "",
    " ",
    "\x00",
    "あ" * 10_000,
    "x" * 10_000,
    "../../../../etc/passwd",
    "１２３",
    "true",
    "null",
    "[]",
    "{}",
    "=cmd|' /C calc'!A0",
    "<script>alert(1)</script>",
    "%",
    "%ZZ",
]

# Names of query parameters and body fields the routes read (from the OpenAPI schema, plus the console forms').
COMMON_FIELDS = [
    "page",
    "per_page",
    "q",
    "from",
    "to",
    "bucket",
    "category",
    "outcome",
    "feedback",
    "resolved",
    "origin",
    "channel",
    "unresolved",
    "question",
    "answer",
    "helpful",
    "query_id",
    "user_id",
    "word",
    "terms",
    "prune",
    "paths",
    "next",
    "token",
    "lang",
    "add_to_faq",
    "id",
    "text",
]

BAD_JSON_BODIES = [
    b"",
    b"{",
    b'{"question": ',
    b"[]",
    b'"text"',
    b"12345678901234567890123456789",
    b"null",
    b"\xff\xfe\x00",
    b'{"question": "\\ud800"}',
    b'{"question": 12, "helpful": "maybe", "query_id": [], "paths": {"a": 1}}',
    b'{"question": "' + ("あ" * 10_000).encode() + b'"}',
    b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"question": 1e999}',
]


def walk(routes, prefix=""):
    for r in routes:
        if hasattr(r, "include_context"):  # FastAPI's included routers
            ctx = r.include_context
            yield from walk(ctx.included_router.routes, prefix + ctx.prefix)
        elif hasattr(r, "path"):
            yield r, prefix + r.path


def every_route(app) -> list[tuple[str, str]]:
    out = []
    for route, path in walk(app.routes):
        if path in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                out.append((method, path))
    return out


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", quote(value.encode("utf-8", "surrogatepass"), safe="") or "x", path)


def enc(value: str) -> bytes:
    return quote(value.encode("utf-8", "surrogatepass"), safe="").encode()


def in_url(value: str) -> str:
    """The value as far as a URL carries it (a client refuses URLs past 64 KiB)."""
    return value if len(value) <= 1000 else value[:1000]


@pytest.fixture(scope="module")
def app_and_client(tmp_path_factory):
    from app.retrieval.embedders import HashingEmbedder
    from app.retrieval.tokenizer import Tokenizer
    from app.services import build_services
    from app.settings import Settings

    tmp = tmp_path_factory.mktemp("fuzz")

    def make(**overrides):
        docs = overrides.pop("docs_dir")
        return build_services(
            Settings(_env_file=None, data_dir=tmp / "data", docs_dir=docs, rate_limit_per_minute=0, **overrides),
            embedder=HashingEmbedder(),
            tokenizer=Tokenizer(),
        )

    services = build(
        make, tmp, slack_bot_token="xoxb-test", slack_signing_secret="secret", slack_api_url="http://127.0.0.1:9/"
    )
    services.query_log.record(result("有給は何日？", outcome="escalated"))
    app = create_app(services.settings, services=services)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.post("/console/login", data={"csrf": csrf, "token": TOKEN, "next": "/console"}, follow_redirects=False)
        yield app, client


def console_csrf(client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/faq").text)
    return found.group(1) if found else ""


class Problems(list):
    def check(self, resp, method: str, url: str, what: str) -> None:
        where = f"{method} {url[:60]} [{what}]"
        if resp.status_code >= 500:
            self.append(f"{where} → {resp.status_code}: {resp.text[:200]}")
        elif url.startswith("/api/") and resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {}
            if not (isinstance(body, dict) and body.get("error") and body.get("detail")):
                self.append(f"{where} → {resp.status_code}: not our JSON error: {resp.text[:200]}")

    def assert_none(self) -> None:
        assert not self, f"{len(self)} problems:\n" + "\n".join(sorted(set(self))[:40])


def multipart(fields: dict[str, bytes], files: dict[str, tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A multipart body built by hand, so a file name can hold any bytes (httpx refuses lone surrogates)."""
    boundary = "fuzzboundary7MA4YWxkTrZu0gW"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        )
    for name, (filename, data) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
            + filename
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_the_route_table_is_enumerated(app_and_client):
    app, _ = app_and_client
    routes = every_route(app)
    assert ("POST", "/api/ask") in routes and ("DELETE", "/api/admin/askers/{user_id:path}") in routes
    assert ("POST", "/slack/events") in routes and ("GET", "/console/queries") in routes
    assert len(routes) >= 40


def test_nasty_path_and_query_values_on_every_route(app_and_client):
    app, client = app_and_client
    problems = Problems()
    for method, path in every_route(app):
        for value in NASTY:
            url = fill(path, in_url(value))
            fields = COMMON_FIELDS if len(value) <= 1000 else COMMON_FIELDS[:4]  # a URL stays under 64 KiB
            query = b"&".join(f.encode() + b"=" + enc(in_url(value)) for f in fields)
            headers = {**AUTH} if path.startswith("/api/admin") else {}
            resp = client.request(method, url + "?" + query.decode("ascii"), headers=headers)
            problems.check(resp, method, url, f"query {value[:20]!r}")
    problems.assert_none()


def test_nasty_json_bodies_on_every_route(app_and_client):
    app, client = app_and_client
    problems = Problems()
    for method, path in every_route(app):
        if method not in ("POST", "PUT", "DELETE", "PATCH"):
            continue
        url = fill(path, "1")
        headers = {**AUTH, "Content-Type": "application/json"}
        for body in BAD_JSON_BODIES:
            problems.check(
                client.request(method, url, content=body, headers=headers), method, url, f"body {body[:20]!r}"
            )
        for value in NASTY:
            fields = {f: value for f in COMMON_FIELDS}
            raw = json.dumps(fields).encode()  # lone surrogates travel as \ud800 escapes
            problems.check(
                client.request(method, url, content=raw, headers=headers), method, url, f"json {value[:20]!r}"
            )
            typed = json.dumps({f: [value, {"x": value}] for f in COMMON_FIELDS}).encode()  # wrong types
            problems.check(
                client.request(method, url, content=typed, headers=headers), method, url, f"types {value[:20]!r}"
            )
    problems.assert_none()


def test_nasty_form_bodies_on_every_route(app_and_client):
    app, client = app_and_client
    problems = Problems()
    csrf = console_csrf(client)
    for method, path in every_route(app):
        if method not in ("POST", "PUT"):
            continue
        for value in NASTY:
            url = fill(path, in_url(value))
            body = b"&".join(f.encode() + b"=" + enc(value) for f in [*COMMON_FIELDS, "csrf"])
            body = body.replace(b"csrf=" + enc(value), b"csrf=" + enc(csrf))
            headers = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
            problems.check(
                client.request(method, url, content=body, headers=headers), method, url, f"form {value[:20]!r}"
            )
            name = value.encode("utf-8", "surrogatepass")
            content, ctype = multipart(
                {"csrf": csrf.encode(), "question": name, "prune": name},
                {"files": (name + b".md", b"# t\n\nbody"), "file": (name or b"x", b"q,a\n")},
            )
            resp = client.request(method, url, content=content, headers={**AUTH, "Content-Type": ctype})
            problems.check(resp, method, url, f"multipart {value[:20]!r}")
    problems.assert_none()
