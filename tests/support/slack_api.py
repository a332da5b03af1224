"""A real local HTTP server standing in for Slack's Web API (and response_url webhooks, and Socket Mode).

It records every call, answers like Slack does for the methods Madoguchi uses, and can be told to fail the next
call of a method — with HTTP 429 + `Retry-After` (rate limit) or with a Slack error such as `invalid_blocks`.

    with FakeSlack() as slack:
        settings = make_settings(slack_api_url=slack.api_url, ...)
        ...
        calls = slack.wait_for("chat.postMessage", count=1)

Socket Mode: `slack.start_socket_mode()` also serves a WebSocket endpoint; `apps.connections.open` returns its
`ws://` URL, and `slack.send_socket_envelope(...)` pushes an envelope and waits for the app's acknowledgement.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0001"


@dataclass
class Call:
    method: str  # Web API method ("chat.postMessage") or "response_url" for webhook posts
    args: dict
    headers: dict
    path: str
    at: float = field(default_factory=time.time)
    status: int = 200


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Condition()
        self._failures: dict[str, list[_Failure]] = {}
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ws_server = None
        self._ws_thread: threading.Thread | None = None
        self._ws_conns: list = []
        self._ws_acks: dict[str, dict] = {}

    # --- lifecycle ---
    def start(self) -> "FakeSlack":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = fake._handle(self.path, dict(self.headers), raw)
                data = body.encode("utf-8")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._ws_server is not None:
            self._ws_server.shutdown()
            self._ws_thread.join(5)
            self._ws_server = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self) -> "FakeSlack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str | None = None) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name or uuid.uuid4().hex}"

    # --- test controls ---
    def fail_next(
        self, method: str, *, status: int = 200, error: str | None = None, retry_after: int | None = None
    ) -> None:
        """Fail the next call of `method`: `status=429, retry_after=1` for a rate limit, `error="..."` for ok=false."""
        with self._lock:
            self._failures.setdefault(method, []).append(_Failure(status, error, retry_after))

    def calls_to(self, method: str, **match) -> list[Call]:
        """Recorded calls of `method` (successful ones only) whose args contain every `match` item."""
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method
                and c.status == 200
                and not c.args.get("_failed")
                and all(c.args.get(k) == v for k, v in match.items())
            ]

    def wait_for(self, method: str, *, count: int = 1, timeout: float = 60.0, **match) -> list[Call]:
        deadline = time.time() + timeout
        with self._lock:
            while True:
                found = [
                    c
                    for c in self.calls
                    if c.method == method
                    and c.status == 200
                    and not c.args.get("_failed")
                    and all(c.args.get(k) == v for k, v in match.items())
                ]
                if len(found) >= count:
                    return found
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} call(s) to {method} {match or ''}; got {len(found)}. "
                        f"All calls: {[(c.method, c.status) for c in self.calls]}"
                    )
                self._lock.wait(min(left, 0.2))

    def quiet(self, seconds: float = 1.0) -> None:
        """Wait until no call has arrived for `seconds` (to check that nothing *more* happens).

        Always waits at least `seconds` from now: with no call recorded yet, the work under test may simply not
        have run yet, and returning at once would let "nothing was posted" pass before the worker had a chance."""
        started = time.time()
        while True:
            with self._lock:
                last = max(self.calls[-1].at if self.calls else 0.0, started)
            idle = time.time() - last
            if idle >= seconds:
                return
            time.sleep(seconds - idle)

    # --- the Web API ---
    def _handle(self, path: str, headers: dict, raw: bytes) -> tuple[int, str, dict]:
        parsed = urllib.parse.urlparse(path)
        args = _parse_body(headers, raw)
        args.update({k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()})
        if parsed.path.startswith("/response/"):
            return self._record(
                Call("response_url", args, headers, parsed.path), 200, "ok", {"content-type": "text/plain"}
            )
        method = parsed.path.removeprefix("/api/")
        with self._lock:
            queue = self._failures.get(method) or []
            failure = queue.pop(0) if queue else None
        if failure is not None:
            out_headers = {"content-type": "application/json"}
            if failure.retry_after is not None:
                out_headers["retry-after"] = str(failure.retry_after)
            error = failure.error or ("ratelimited" if failure.status == 429 else "fatal_error")
            call = Call(method, {**args, "_failed": error}, headers, parsed.path, status=failure.status)
            return self._record(call, failure.status, json.dumps({"ok": False, "error": error}), out_headers)
        body = self._answer(method, args)
        return self._record(
            Call(method, args, headers, parsed.path), 200, json.dumps(body), {"content-type": "application/json"}
        )

    def _record(self, call: Call, status: int, body: str, headers: dict) -> tuple[int, str, dict]:
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()
        return status, body, headers

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _answer(self, method: str, args: dict) -> dict:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Example",
                "user": "madoguchi",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method in ("chat.postMessage", "chat.postEphemeral"):
            ts = self.next_ts()
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": args.get("text"), "ts": ts}
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": ts}
            channel = args.get("channel", "")
            if channel.startswith("U"):  # posting to a user id opens the app's DM with them
                channel = "D" + channel[1:]
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text")}
        if method == "chat.getPermalink":
            ts = str(args.get("message_ts", "")).replace(".", "")
            return {
                "ok": True,
                "channel": args.get("channel"),
                "permalink": f"https://example.slack.com/archives/{args.get('channel')}/p{ts}",
            }
        if method == "conversations.open":
            user = str(args.get("users", "U")).split(",")[0]
            return {"ok": True, "channel": {"id": "D" + user[1:]}}
        if method == "reactions.add":
            return {"ok": True}
        if method == "apps.connections.open":
            if self._ws_server is None:
                return {"ok": False, "error": "socket_mode_not_started"}
            return {"ok": True, "url": f"ws://127.0.0.1:{self._ws_server.socket.getsockname()[1]}/link"}
        return {"ok": True}

    # --- Socket Mode ---
    def start_socket_mode(self) -> None:
        from websockets.sync.server import serve

        fake = self

        def handler(ws):
            ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}}))
            with fake._lock:
                fake._ws_conns.append(ws)
                fake._lock.notify_all()
            try:
                for message in ws:
                    data = json.loads(message)
                    with fake._lock:
                        if "envelope_id" in data:
                            fake._ws_acks[data["envelope_id"]] = data
                        fake._lock.notify_all()
            except Exception:  # noqa: BLE001 - the client went away
                pass
            finally:
                with fake._lock:
                    if ws in fake._ws_conns:
                        fake._ws_conns.remove(ws)

        self._ws_server = serve(handler, "127.0.0.1", 0)
        self._ws_thread = threading.Thread(target=self._ws_server.serve_forever, name="fake-slack-ws", daemon=True)
        self._ws_thread.start()

    def wait_socket_connected(self, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        with self._lock:
            while not self._ws_conns:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("the app did not connect over Socket Mode")
                self._lock.wait(min(left, 0.2))

    def send_socket_envelope(self, envelope_type: str, payload: dict, *, timeout: float = 30.0) -> dict:
        """Push an `events_api` / `interactive` / `slash_commands` envelope; returns the app's ack message."""
        envelope_id = uuid.uuid4().hex
        msg = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": envelope_type != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self.wait_socket_connected(timeout)
        with self._lock:
            ws = self._ws_conns[-1]
        ws.send(json.dumps(msg))
        deadline = time.time() + timeout
        with self._lock:
            while envelope_id not in self._ws_acks:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"no Socket Mode ack for envelope {envelope_id}")
                self._lock.wait(min(left, 0.2))
            return self._ws_acks[envelope_id]


def _parse_body(headers: dict, raw: bytes) -> dict:
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if not raw:
        return {}
    text = raw.decode("utf-8")
    if "json" in ctype:
        data = json.loads(text)
        return data if isinstance(data, dict) else {"_body": data}
    args = {k: v[0] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}
    for key in ("blocks", "attachments"):
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                pass
    return args


# --- requests as Slack sends them (signed with slack_sdk's real SignatureVerifier) ---
def signed_headers(
    secret: str, body: str, *, timestamp: int | None = None, content_type: str = "application/json"
) -> dict:
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret=secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}


def event_envelope(event: dict, *, team: str = TEAM_ID, event_id: str | None = None) -> dict:
    return {
        "token": "legacy-unused",
        "team_id": team,
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": team, "user_id": BOT_USER_ID, "is_bot": True, "is_enterprise_install": False}],
    }


def slash_form(
    *, text: str, user: str, channel: str, response_url: str, command: str = "/faq", team: str = TEAM_ID
) -> dict:
    return {
        "token": "legacy-unused",
        "team_id": team,
        "team_domain": "example",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "response_url": response_url,
        "trigger_id": uuid.uuid4().hex,
    }


def block_actions(
    *,
    user: str,
    channel: str,
    message: dict | None,
    action: dict,
    response_url: str,
    team: str = TEAM_ID,
    ephemeral: bool = False,
) -> dict:
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "example"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0001",
        "token": "legacy-unused",
        "trigger_id": uuid.uuid4().hex,
        "container": {
            "type": "message",
            "message_ts": (message or {}).get("ts", "0"),
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "channel": {"id": channel, "name": "general"},
        "response_url": response_url,
        "actions": [{**action, "type": "button", "action_ts": f"{time.time():.6f}"}],
    }
    if message is not None and not ephemeral:
        payload["message"] = message
    return payload
