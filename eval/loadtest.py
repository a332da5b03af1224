"""The HTTP part of `madoguchi bench`: a real `madoguchi serve` subprocess and concurrent `POST /api/ask` clients."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from eval.metrics import mean, percentile

ROOT = Path(__file__).resolve().parents[1]

_JA_PREFIX = [
    "",
    "すみません、",
    "質問です。",
    "お疲れ様です。",
    "教えてください。",
    "確認ですが、",
    "念のため伺います。",
    "急ぎではないのですが、",
]
_EN_PREFIX = [
    "",
    "Hi, ",
    "Quick question: ",
    "Sorry to bother you, ",
    "Hello! ",
    "One question: ",
    "Hey, ",
    "Could you tell me: ",
]
_JA_SUFFIX = ["", " よろしくお願いします。", " 至急ではありません。"]
_EN_SUFFIX = ["", " Thanks!", " Thank you."]


def say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def question_variant(questions: list[str], i: int) -> str:
    """The i-th request's question: every golden question under a different polite prefix / suffix each round."""
    from app.retrieval.tokenizer import is_japanese

    q = questions[i % len(questions)]
    rnd = i // len(questions)
    ja = is_japanese(q)
    prefixes, suffixes = (_JA_PREFIX, _JA_SUFFIX) if ja else (_EN_PREFIX, _EN_SUFFIX)
    prefix = prefixes[rnd % len(prefixes)]
    suffix = suffixes[(rnd // len(prefixes)) % len(suffixes)]
    extra = rnd // (len(prefixes) * len(suffixes))
    tail = f" ({extra})" if extra else ""
    return f"{prefix}{q}{suffix}{tail}"


# ---------- the HTTP server ----------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status_mib(pid: int, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0  # kB → MiB
    except OSError:
        return None
    return None


class Server:
    """`python -m app.cli serve` over `data_dir` on a free port; environment cleaned of outside services."""

    def __init__(self, data_dir: Path, *, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MADOGUCHI_", "SLACK_", "OPENAI_"))}
        env.update(
            {
                "MADOGUCHI_DATA_DIR": str(data_dir),
                # every bench request comes from one client address: measure throughput, not the per-asker limit
                "MADOGUCHI_RATE_LIMIT_PER_MINUTE": "0",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
            }
        )
        for key in (
            "MADOGUCHI_EMBEDDER",
            "MADOGUCHI_EMBEDDER_THREADS",
            "MADOGUCHI_DENSE_SEARCH",
            "MADOGUCHI_TOP_K",
            "MADOGUCHI_CONFIDENCE_THRESHOLD",
            "MADOGUCHI_CATEGORY_PATTERNS",
        ):
            if key in os.environ:
                env[key] = os.environ[key]  # the retrieval settings under test stay the same
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=str(data_dir),
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 600.0) -> dict:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.proc.returncode}; see {self.log.name}")
            try:
                r = httpx.get(self.url + "/readyz", timeout=2.0)
                if r.status_code == 200:
                    return r.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server was not ready within {timeout:.0f}s; see {self.log.name}")

    def rss_mb(self) -> float | None:
        return proc_status_mib(self.proc.pid, "VmRSS")

    def peak_rss_mb(self) -> float | None:
        return proc_status_mib(self.proc.pid, "VmHWM")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


async def _load(
    url: str,
    *,
    clients: int,
    questions: list[str],
    start: int,
    max_requests: int,
    max_seconds: float,
    vary: bool = True,
) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    next_i = start
    sent = 0
    deadline = time.perf_counter() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_i, sent
        while sent < max_requests and time.perf_counter() < deadline:
            i = next_i
            next_i += 1
            sent += 1
            t = time.perf_counter()
            try:
                q = question_variant(questions, i) if vary else questions[i % len(questions)]
                r = await client.post(url + "/api/ask", json={"question": q, "channel": "bench"})
                ok = r.status_code == 200
                key = str(r.status_code)
            except httpx.HTTPError as exc:
                ok, key = False, type(exc).__name__
            if ok:
                latencies.append((time.perf_counter() - t) * 1000)
            else:
                errors[key] = errors.get(key, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed, "next": next_i}


def _level(lat: list[float], got: dict) -> dict:
    return {
        "requests": len(lat),
        "errors": got["errors"],
        "seconds": round(got["elapsed"], 2),
        "throughput_rps": round(len(lat) / got["elapsed"], 1) if got["elapsed"] else 0.0,
        "mean_ms": round(mean(lat), 2),
        "p50_ms": round(percentile(lat, 50), 2),
        "p95_ms": round(percentile(lat, 95), 2),
        "p99_ms": round(percentile(lat, 99), 2),
    }


def bench_server(
    data_dir: Path, *, questions: list[str], levels: dict[int, int], max_seconds: float, progress: bool
) -> tuple[dict, dict]:
    server = Server(data_dir, log_path=data_dir / "bench-server.log")
    try:
        t = time.perf_counter()
        ready = server.wait_ready()
        startup = time.perf_counter() - t
        say(progress, f"server ready in {startup:.1f}s ({ready.get('chunks')} chunks), rss {server.rss_mb():.0f} MiB")
        warm = asyncio.run(
            _load(server.url, clients=1, questions=questions, start=10**6, max_requests=20, max_seconds=30)
        )
        results: dict[str, dict] = {}
        samples: dict[str, list[float]] = {}
        i = 0
        for clients, n in levels.items():
            got = asyncio.run(
                _load(
                    server.url, clients=clients, questions=questions, start=i, max_requests=n, max_seconds=max_seconds
                )
            )
            i = got["next"]
            lat = got["latencies"]
            results[str(clients)] = _level(lat, got)
            samples[f"{clients} client{'s' if clients > 1 else ''}"] = lat
            say(progress, f"  {clients:2} clients: {results[str(clients)]}")
        # The same 16 clients asking the golden questions verbatim, after one pass that put every query vector in
        # the server's LRU cache: what a request costs besides embedding the question (search, compose, log, HTTP).
        asyncio.run(
            _load(
                server.url,
                clients=4,
                questions=questions,
                start=0,
                max_requests=len(questions),
                max_seconds=120,
                vary=False,
            )
        )
        clients = max(levels)
        got = asyncio.run(
            _load(
                server.url,
                clients=clients,
                questions=questions,
                start=0,
                max_requests=levels[clients],
                max_seconds=max_seconds,
                vary=False,
            )
        )
        lat = got["latencies"]
        results[f"{clients}_cached"] = _level(lat, got)
        samples[f"{clients} clients, cached questions"] = lat
        say(progress, f"  {clients:2} clients, cached: {results[f'{clients}_cached']}")
        info = {
            "startup_s": round(startup, 1),
            "chunks": ready.get("chunks"),
            "warmup_errors": warm["errors"],
            "rss_after_mb": round(server.rss_mb() or 0, 1),
            "peak_rss_mb": round(server.peak_rss_mb() or 0, 1),
        }
        return {"levels": results, **info}, samples
    finally:
        server.stop()
