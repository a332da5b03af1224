"""Real local HTTP servers standing in for an LLM at the network edge.

`FakeLLMServer("openai")` speaks the OpenAI chat-completions protocol (POST …/chat/completions, JSON);
`FakeLLMServer("ollama")` speaks Ollama's (POST /api/chat, NDJSON stream or one JSON object; GET /api/tags).
Both listen on a free 127.0.0.1 port, answer with scripted replies (a queue, then `responder(body)` when set,
then a default), record every request (path, headers, JSON body), and can return an HTTP error or stall past
the client's timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    stall_s: float = 0.0  # wait this long before answering (a stalled server)
    finish_reason: str = "stop"
    refusal: str | None = None  # OpenAI's message.refusal


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict = field(default_factory=dict)

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])

    def role(self, role: str) -> list[str]:
        """The contents of the messages with this role."""
        return [m.get("content") for m in self.messages if m.get("role") == role]


class FakeLLMServer:
    def __init__(self, protocol: str = "openai", *, model: str = "fake-model") -> None:
        if protocol not in ("openai", "ollama"):
            raise ValueError(protocol)
        self.protocol = protocol
        self.model = model
        self.requests: list[Recorded] = []
        self.default = Reply(content="")
        self.responder: Callable[[dict], Reply | str] | None = None  # computes a reply from the request body
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------- scripting ----------
    def script(self, *replies: Reply | str) -> None:
        """Queue replies for the next requests (a str is a normal completion); after them, `default`."""
        with self._lock:
            self._queue.extend(Reply(content=r) if isinstance(r, str) else r for r in replies)

    def reset(self, default: Reply | str = "") -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.responder = None
            self.default = Reply(content=default) if isinstance(default, str) else default

    def _next(self, body: dict) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
            responder = self.responder
        if responder is not None:
            reply = responder(body)
            return Reply(content=reply) if isinstance(reply, str) else reply
        return self.default

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # ---------- lifecycle ----------
    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What the client is configured with (OpenAI clients append /chat/completions to it)."""
        root = f"http://127.0.0.1:{self.port}"
        return f"{root}/v1" if self.protocol == "openai" else root

    def start(self) -> "FakeLLMServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                if server.protocol == "ollama" and self.path.rstrip("/") == "/api/tags":
                    self._json(200, {"models": [{"name": server.model, "model": server.model}]})
                elif server.protocol == "openai" and self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._json(404, {"error": f"no route {self.path}"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                route_ok = (
                    self.path.rstrip("/").endswith("/chat/completions")
                    if server.protocol == "openai"
                    else self.path.rstrip("/") == "/api/chat"
                )
                if not route_ok:
                    self._json(404, {"error": f"no route {self.path}"})
                    return
                with server._lock:
                    server.requests.append(
                        Recorded(path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body)
                    )
                reply = server._next(body)
                if reply.stall_s and server._closing.wait(reply.stall_s):
                    return
                try:
                    if reply.status != 200:
                        error = {"error": {"message": "scripted failure", "type": "server_error", "code": None}}
                        self._json(
                            reply.status, error if server.protocol == "openai" else {"error": "scripted failure"}
                        )
                    elif server.protocol == "openai":
                        self._openai(body, reply)
                    else:
                        self._ollama(body, reply)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def _json(self, status: int, data: dict) -> None:
                payload = json.dumps(data, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _openai(self, body: dict, reply: Reply) -> None:
                message = {"role": "assistant", "content": None if reply.refusal else reply.content}
                if reply.refusal:
                    message["refusal"] = reply.refusal
                self._json(
                    200,
                    {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", server.model),
                        "choices": [
                            {"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    },
                )

            def _ollama(self, body: dict, reply: Reply) -> None:
                model = body.get("model", server.model)
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                done = {
                    "model": model,
                    "created_at": now,
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": reply.finish_reason,
                    "total_duration": 1000,
                    "load_duration": 10,
                    "prompt_eval_count": 10,
                    "prompt_eval_duration": 100,
                    "eval_count": 5,
                    "eval_duration": 100,
                }
                if not body.get("stream", True):
                    done["message"]["content"] = reply.content
                    self._json(200, done)
                    return
                half = len(reply.content) // 2
                pieces = [reply.content[:half], reply.content[half:]]
                lines = [
                    {"model": model, "created_at": now, "message": {"role": "assistant", "content": p}, "done": False}
                    for p in pieces
                    if p
                ] + [done]
                payload = b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
                self.send_response(200)
                self.send_header("content-type", "application/x-ndjson")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"fake-{self.protocol}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def quote_first_excerpt(body: dict) -> str:
    """A stand-in "model" for runs over many questions: quotes the first sentence of excerpt [1] and cites it;
    answers the not-answered marker when no excerpt was given."""
    import re

    user = next((m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    m = re.search(r'<excerpt n="1">\n(?:[a-z]+: [^\n]*\n)*\n(.*?)\n</excerpt>', user, re.S)
    if not m or not m.group(1).strip():
        return "NO_ANSWER"
    first = re.split(r"(?<=[。.!?！？])\s*|\n", m.group(1).strip(), maxsplit=1)[0]
    return f"{first} [1]"
