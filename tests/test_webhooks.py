"""The outgoing webhook end to end: a real local HTTP receiver (a socket on a free 127.0.0.1 port) that fails the
first attempt, the app over real SQLite / Chroma / Sudachi (hashing embedder), signed and retried deliveries, the
delivery log and its console page."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.ops.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
from tests.support.querylog import AUTH, GAP, build, client_for
from tests.test_console import login

SECRET = "whsec-test-0123456789"


@dataclass
class Delivery:
    headers: dict
    body: bytes
    status: int

    @property
    def data(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver: answers each request with the next status of `statuses` (then 200), optionally waiting
    for `gate` first; records what it got."""

    def __init__(self, statuses: list[int] | None = None, gate: threading.Event | None = None) -> None:
        self.statuses = list(statuses or [])
        self.gate = gate
        self.got: list[Delivery] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if receiver.gate is not None:
                    receiver.gate.wait(30)
                with receiver.cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.got.append(Delivery(dict(self.headers), body, status))
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/madoguchi"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def wait(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.got) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"expected {count} deliveries, got {len(self.got)}"
                self.cond.wait(left)
            return list(self.got)


def header(d: Delivery, name: str) -> str:
    return next(v for k, v in d.headers.items() if k.lower() == name.lower())


def served(fast_services, tmp_path, receiver: Receiver, **overrides):
    settings = dict(webhook_url=receiver.url, webhook_secret=SECRET, webhook_backoff_s=0.05, webhook_timeout_s=5)
    settings.update(overrides)
    services = build(fast_services, tmp_path, **settings)
    return services, client_for(services)


def test_signature_helper_accepts_the_real_signature_and_detects_tampering():
    body = json.dumps({"event": "question.resolved", "staff_answer": "受付に掲示しています"}, ensure_ascii=False)
    ts = int(time.time())
    signature = sign(SECRET, ts, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify_signature(SECRET, ts, body, signature)
    assert verify_signature(SECRET, str(ts), body.encode("utf-8"), signature)  # header strings, raw bytes
    assert not verify_signature(SECRET, ts, body.replace("受付", "総務"), signature)  # tampered body
    assert not verify_signature("another-secret", ts, body, signature)
    assert not verify_signature(SECRET, ts + 1, body, signature)  # the timestamp is signed too
    assert not verify_signature(SECRET, ts, body, None) and not verify_signature(SECRET, "soon", body, signature)
    old = ts - 3600
    assert not verify_signature(SECRET, old, body, sign(SECRET, old, body))  # replayed: too old
    assert verify_signature(SECRET, old, body, sign(SECRET, old, body), max_age_s=None)


def test_escalation_and_resolution_reach_the_receiver_signed_and_retried(fast_services, tmp_path):
    with Receiver(statuses=[500]) as receiver:
        services, client_cm = served(fast_services, tmp_path, receiver)
        with client_cm as client:
            asked = client.post("/api/ask", json={"question": GAP, "user_id": "E1001"}).json()
            assert asked["outcome"] == "escalated"
            first, second = receiver.wait(2)
            # The first attempt failed (HTTP 500) and the same event came again, freshly signed.
            assert first.status == 500 and second.status == 200
            assert first.body == second.body
            event = second.data
            assert event["event"] == "question.escalated" and event["query_id"] == asked["query_id"]
            assert event["channel"] == "api" and event["question"] == GAP and event["user_id"] == "E1001"
            assert event["escalated_at"] and event["staff_answer"] is None and event["delivery_id"]
            for d in (first, second):
                assert verify_signature(SECRET, header(d, TIMESTAMP_HEADER), d.body, header(d, SIGNATURE_HEADER))
            tampered = second.body.replace(GAP.encode("utf-8"), "別の質問".encode())
            assert not verify_signature(
                SECRET, header(second, TIMESTAMP_HEADER), tampered, header(second, SIGNATURE_HEADER)
            )

            resolved = client.post(
                f"/api/admin/queries/{asked['query_id']}/resolve",
                headers=AUTH,
                json={"answer": "受付に掲示しています。", "by": "佐藤"},
            )
            assert resolved.status_code == 200, resolved.text
            third = receiver.wait(3)[2]
            assert third.data["event"] == "question.resolved"
            assert third.data["staff_answer"] == "受付に掲示しています。" and third.data["resolved_at"]
            assert third.data["resolved_by"] == "佐藤"
            assert verify_signature(
                SECRET, header(third, TIMESTAMP_HEADER), third.body, header(third, SIGNATURE_HEADER)
            )
            assert services.webhooks.flush(10)

            # Every attempt is in the delivery log, newest first.
            log = services.query_log.webhook_deliveries.recent()
            assert [(a.event, a.attempt, a.status_code, a.ok) for a in log] == [
                ("question.resolved", 1, 200, True),
                ("question.escalated", 2, 200, True),
                ("question.escalated", 1, 500, False),
            ]
            assert {a.query_id for a in log} == {asked["query_id"]}
            assert log[1].delivery_id == log[2].delivery_id == event["delivery_id"]

            # The console lists them, in Japanese and in English.
            assert login(client).status_code == 303
            page = client.get("/console/webhooks")
            assert page.status_code == 200
            assert "Webhook 配信履歴" in page.text and "担当者への引き継ぎ" in page.text and "HTTP 500" in page.text
            assert page.text.count("<tr class=") == 3 and receiver.url in page.text
            client.get("/console/lang/en")
            page_en = client.get("/console/webhooks")
            assert "Webhook deliveries" in page_en.text and "Passed to the staff" in page_en.text
            assert "担当者" not in page_en.text


def test_delivery_never_blocks_the_answer(fast_services, tmp_path):
    gate = threading.Event()
    with Receiver(gate=gate) as receiver:
        services, client_cm = served(fast_services, tmp_path, receiver)
        with client_cm as client:
            started = time.monotonic()
            resp = client.post("/api/ask", json={"question": GAP})
            assert resp.status_code == 200 and resp.json()["outcome"] == "escalated"
            assert not receiver.got  # the receiver is still holding the request: the asker was answered anyway
            assert time.monotonic() - started < 20
            gate.set()
            assert receiver.wait(1)[0].data["event"] == "question.escalated"


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(fast_services, tmp_path):
    with Receiver(statuses=[503] * 10) as receiver:
        services, client_cm = served(fast_services, tmp_path, receiver, webhook_max_attempts=3)
        with client_cm as client:
            client.post("/api/ask", json={"question": GAP})
            receiver.wait(3)
            assert services.webhooks.flush(10)
            time.sleep(0.3)  # a 4th attempt would come after 0.2 s
            assert len(receiver.got) == 3
            attempts = services.query_log.webhook_deliveries.recent()
            assert [(a.attempt, a.status_code, a.ok) for a in attempts] == [
                (3, 503, False),
                (2, 503, False),
                (1, 503, False),
            ]


def test_answered_and_evaluation_questions_send_nothing(fast_services, tmp_path):
    from app.answer import answer
    from tests.support.querylog import ANSWERABLE

    with Receiver() as receiver:
        services, client_cm = served(fast_services, tmp_path, receiver)
        with client_cm:
            answer(question=GAP, services=services, origin="eval")
            out = answer(question=ANSWERABLE, services=services, origin="api", threshold=0.0)
            assert out.outcome == "answered"
            assert services.webhooks.flush(5)
            assert receiver.got == []


def test_unreachable_receiver_is_recorded_as_an_error(fast_services, tmp_path):
    from tests.servers import free_port

    services = build(
        fast_services,
        tmp_path,
        webhook_url=f"http://127.0.0.1:{free_port()}/nobody",
        webhook_secret=SECRET,
        webhook_backoff_s=0.05,
        webhook_max_attempts=2,
        webhook_timeout_s=2,
    )
    with client_for(services) as client:
        client.post("/api/ask", json={"question": GAP})
        deadline = time.monotonic() + 20
        while len(services.query_log.webhook_deliveries.recent()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        attempts = services.query_log.webhook_deliveries.recent()
        assert [a.attempt for a in attempts] == [2, 1]
        assert all(a.status_code is None and not a.ok and "Error" in (a.error or "") for a in attempts)


@pytest.mark.parametrize("secret", [None])
def test_without_a_secret_deliveries_are_unsigned(fast_services, tmp_path, secret):
    with Receiver() as receiver:
        services, client_cm = served(fast_services, tmp_path, receiver, webhook_secret=secret)
        with client_cm as client:
            client.post("/api/ask", json={"question": GAP})
            d = receiver.wait(1)[0]
            assert SIGNATURE_HEADER.lower() not in {k.lower() for k in d.headers}
            assert header(d, TIMESTAMP_HEADER)


def test_an_event_not_yet_delivered_survives_a_restart(fast_services, tmp_path):
    with Receiver(statuses=[500]) as receiver:
        # The retry would come only after a minute: the server stops before it.
        services, client_cm = served(fast_services, tmp_path, receiver, webhook_backoff_s=60)
        with client_cm as client:
            asked = client.post("/api/ask", json={"question": GAP}).json()
            assert receiver.wait(1)[0].status == 500
        outbox = services.query_log.webhook_deliveries
        [left] = outbox.pending()
        assert left.event == "question.escalated" and left.query_id == asked["query_id"] and left.attempts == 1

        with client_for(services):  # the server starts again over the same database
            second = receiver.wait(2)[1]
            assert second.status == 200 and second.data["delivery_id"] == left.delivery_id
            assert services.webhooks.flush(10)
        assert outbox.pending() == []
        assert [(a.attempt, a.ok) for a in outbox.recent()] == [(2, True), (1, False)]


def test_a_webhook_url_that_is_not_http_is_refused_at_start(make_settings):
    from app.errors import ConfigError
    from app.ops.webhooks import WebhookSender

    with pytest.raises(ConfigError, match="http:// or https://"):
        WebhookSender.from_settings(make_settings(webhook_url="file:///etc/passwd"), None)
    assert WebhookSender.from_settings(make_settings(), None) is None
    sender = WebhookSender.from_settings(make_settings(webhook_url="https://hooks.example.co.jp/x"), None)
    assert sender is not None and sender.url == "https://hooks.example.co.jp/x"
