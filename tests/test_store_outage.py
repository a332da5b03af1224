"""The Chroma server goes away while Madoguchi serves, and comes back: no restart needed.

A real `chroma run` server is stopped and started under a real `madoguchi serve` process: `/readyz` turns 503,
`/api/ask` answers a clear 503 (`store_unavailable`, Japanese and English), `/healthz` stays 200 (a liveness probe
must not kill a replica for its store's outage), and the same process answers again once Chroma is back.
"""

from __future__ import annotations

import httpx
import pytest

from tests.servers import ApiProcess, ChromaServer, wait_for

pytestmark = pytest.mark.server

MANUAL = """# 駐輪場利用規程

## 第1条（目的）
この規程は、本社ビル地下駐輪場の利用について定める。

## 第2条（利用料）
駐輪場の利用料は月額500円とし、毎月の給与から控除する。

## 第3条（申請）
駐輪場を利用する者は、総務課に駐輪場利用申請書を提出しなければならない。
"""
QUESTION = "駐輪場の利用料はいくらですか？"


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    server = ChromaServer(tmp_path_factory.mktemp("outage") / "chroma").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outage-docs")
    (folder / "駐輪場利用規程.md").write_text(MANUAL, encoding="utf-8")
    return folder


def _services(chroma, tmp_path, embedder, tokenizer, *, with_log: bool = False, **overrides):
    from app.services import build_services
    from app.settings import Settings

    settings = Settings(
        _env_file=None, data_dir=tmp_path / "data", chroma_url=chroma.url, collection="outage", **overrides
    )
    return build_services(settings, embedder=embedder, tokenizer=tokenizer, with_log=with_log)


def _ask(api: ApiProcess, *, lang: str = "ja") -> httpx.Response:
    return httpx.post(f"{api.url}/api/ask", json={"question": QUESTION}, headers={"accept-language": lang}, timeout=60)


def test_a_replica_waits_for_chroma_serves_and_survives_its_outage(chroma, docs, tmp_path, embedder, tokenizer):
    _services(chroma, tmp_path, embedder, tokenizer).ingest(paths=[docs])
    chroma.stop()

    # A replica that starts before its Chroma server is up: alive, not ready, and says why.
    api = ApiProcess(
        env={
            "MADOGUCHI_CHROMA_URL": chroma.url,
            "MADOGUCHI_COLLECTION": "outage",
            "MADOGUCHI_DATA_DIR": str(tmp_path / "api"),
            "MADOGUCHI_REFRESH_INTERVAL_S": "0.5",
        },
        log=tmp_path / "api.log",
    ).launch()
    try:
        api.wait(ready=False)
        pid = api.proc.pid
        ready = httpx.get(f"{api.url}/readyz", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["status"] == "not_ready"
        resp = _ask(api)
        assert resp.status_code == 503
        assert resp.json()["error"] == "store_unavailable"

        chroma.start()
        api.wait(ready=True)
        resp = _ask(api)
        assert resp.status_code == 200, resp.text
        assert "月額500円" in resp.json()["answer"]

        # Chroma stops while serving.
        chroma.stop()
        wait_for(
            lambda: httpx.get(f"{api.url}/readyz", timeout=10).status_code == 503,
            timeout=30,
            what="/readyz to turn 503",
        )
        body = httpx.get(f"{api.url}/readyz", timeout=10).json()
        assert body["status"] == "not_ready" and "Chroma" in body["detail"]
        assert httpx.get(f"{api.url}/healthz", timeout=10).status_code == 200
        resp = _ask(api)
        assert resp.status_code == 503
        err = resp.json()
        assert err["error"] == "store_unavailable"
        assert "文書ストア" in err["detail"] and "unavailable" in err["detail_en"]
        resp_en = _ask(api, lang="en")
        assert resp_en.status_code == 503 and resp_en.json()["detail"] == resp_en.json()["detail_en"]

        # Back again: the same process answers, no restart.
        chroma.start()
        api.wait(ready=True)
        resp = _ask(api)
        assert resp.status_code == 200, resp.text
        assert "月額500円" in resp.json()["answer"]
        assert api.proc.poll() is None and api.proc.pid == pid
    finally:
        api.stop()
    assert "Traceback" not in api.output(), api.output()


def test_chroma_dense_search_reports_the_outage_and_reconnects(chroma, docs, tmp_path, embedder, tokenizer):
    """With MADOGUCHI_DENSE_SEARCH=chroma every question queries the server: its outage is a StoreUnavailableError."""
    from app.answer import answer
    from app.errors import StoreUnavailableError

    services = _services(chroma, tmp_path, embedder, tokenizer, dense_search="chroma")
    services.ingest(paths=[docs])
    assert answer(question=QUESTION, services=services, record=False).outcome == "answered"
    chroma.stop()
    try:
        with pytest.raises(StoreUnavailableError):
            answer(question=QUESTION + "（再）", services=services, record=False)
        services.index.poll()
        assert services.index.unavailable and "Chroma" in services.index.last_error
        with pytest.raises(StoreUnavailableError):
            services.index.raise_if_unavailable()
    finally:
        chroma.start()
    services.index.poll()
    assert not services.index.unavailable and services.index.last_error is None
    assert answer(question=QUESTION, services=services, record=False).outcome == "answered"


def test_store_built_while_chroma_is_down_connects_later(chroma, tmp_path):
    from app.errors import StoreUnavailableError
    from app.settings import Settings
    from app.store.chroma import ChunkStore

    chroma.stop()
    try:
        store = ChunkStore(Settings(_env_file=None, data_dir=tmp_path, chroma_url=chroma.url, collection="late"))
        with pytest.raises(StoreUnavailableError):
            store.heartbeat()
        with pytest.raises(StoreUnavailableError):
            store.corpus_info()
    finally:
        chroma.start()
    store.heartbeat()
    assert store.corpus_info()["version"] == 0


def test_slack_question_during_the_outage_is_passed_to_the_staff(chroma, docs, tmp_path, embedder, tokenizer):
    """Slack gets no 503: the asker is told the question went to the staff, and the log says it was escalated."""
    import json

    from fastapi.testclient import TestClient

    from app.reply import TEXTS
    from app.main import create_app
    from tests.support.slack_api import FakeSlack, event_envelope, signed_headers

    secret = "outage-signing-secret"
    with FakeSlack() as fake:
        services = _services(
            chroma,
            tmp_path,
            embedder,
            tokenizer,
            slack_bot_token="xoxb-test",
            slack_signing_secret=secret,
            slack_api_url=fake.api_url,
            slack_escalation_channel="C0STAFF1",
            refresh_interval_s=3600,
            with_log=True,
        )
        services.ingest(paths=[docs])

        def dm(ts: str) -> None:
            event = {
                "type": "message",
                "channel_type": "im",
                "user": "UASKER01",
                "text": QUESTION,
                "ts": ts,
                "channel": "D0OUTAGE",
            }
            body = json.dumps(event_envelope(event, event_id=f"Ev{ts.replace('.', '')}"))
            resp = client.post("/slack/events", content=body.encode(), headers=signed_headers(secret, body))
            assert resp.status_code == 200, resp.text

        with TestClient(create_app(services.settings, services=services)) as client:
            chroma.stop()
            try:
                services.index.poll()  # what the background refresher does every MADOGUCHI_REFRESH_INTERVAL_S
                assert services.index.unavailable
                dm("1700000000.000100")
                reply = fake.wait_for("chat.postMessage", channel="D0OUTAGE")[0]
                assert TEXTS["ja"]["error"] in reply.args["text"] or TEXTS["ja"]["error"] in json.dumps(
                    reply.args.get("blocks"), ensure_ascii=False
                )
                fake.wait_for("chat.postMessage", channel="C0STAFF1")  # the staff see it in their channel
                record = services.query_log.find_by_meta("slack_message_ts", "1700000000.000100")
                assert record.outcome == "escalated" and record.escalation_reason == "error"
            finally:
                chroma.start()
            services.index.poll()
            dm("1700000000.000200")
            replies = fake.wait_for("chat.postMessage", channel="D0OUTAGE", count=2)
            assert "月額500円" in json.dumps(replies[-1].args, ensure_ascii=False)
        services.query_log.close()
