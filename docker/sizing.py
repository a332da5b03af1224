"""Sizing figures for the company topology (README "Deploying for a company"), measured on this machine.

    .venv/bin/python docker/sizing.py [--chunks 20000] [--seconds 60] [--json]

What it does, with real processes only:
1. starts a Chroma server (`chroma run`, as docker/compose.yaml does) in a temporary directory;
2. ingests ../shared/corpora into it, then a synthetic copy of them grown to `--chunks` chunks
   (eval.synthetic.make_synthetic_corpus: perturbed copies, so the lexical index is realistic);
3. memory: one API replica (`madoguchi serve`, MADOGUCHI_EMBEDDER_THREADS=1) on an empty collection and on the
   full one; the RSS difference per 10k chunks is what each replica needs on top of its base, and the Chroma
   server's RSS is reported too;
4. throughput per core: that replica pinned to CPU 0, this load generator pinned to another CPU, 4 concurrent
   clients posting distinct golden questions to /api/ask for a bounded time (`--seconds`) or request count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ingest(stores: dict, paths: list[Path], *, embedder, tokenizer) -> dict:
    from app.services import build_services
    from app.settings import Settings

    settings = Settings(_env_file=None, data_dir=Path(tempfile.mkdtemp()), **stores)
    services = build_services(settings, load_index=False, with_log=False, embedder=embedder, tokenizer=tokenizer)
    t = time.perf_counter()
    report = services.ingest(paths=paths)
    return {"report": report, "seconds": time.perf_counter() - t}


def _has_corpus(stores: dict) -> bool:
    from app.settings import Settings
    from app.store.chroma import ChunkStore

    return int(ChunkStore(Settings(_env_file=None, **stores)).corpus_info().get("version", 0)) > 0


def count_chunks(corpora: Path) -> dict[str, int]:
    """Chunks per file ("<folder>/<path>") by the production chunker, without embedding anything."""
    from ingest.chunker import chunk_document
    from ingest.loaders import load as load_document
    from ingest.pipeline import discover

    counts = {}
    for path, doc_id, _root in discover([corpora]):
        try:
            counts[doc_id] = len(chunk_document(load_document(path)))
        except Exception:  # noqa: BLE001 - a file the ingest would reject adds no chunks
            counts[doc_id] = 0
    return counts


async def load(url: str, *, questions: list[str], clients: int, max_requests: int, max_seconds: float) -> dict:
    import httpx

    from eval.loadtest import question_variant

    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while len(latencies) + errors < max_requests and time.perf_counter() < deadline:
            i = next(counter)
            t = time.perf_counter()
            r = await client.post(url + "/api/ask", json={"question": question_variant(questions, i), "channel": "sizing"})
            if r.status_code == 200:
                latencies.append((time.perf_counter() - t) * 1000)
            else:
                errors += 1

    async with httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=clients)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, "seconds": round(elapsed, 1), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1)}


def replica(stores: dict, work: Path, name: str, *, cpu: int | None):
    from tests.servers import ApiProcess

    env = {"MADOGUCHI_CHROMA_URL": stores["chroma_url"], "MADOGUCHI_COLLECTION": stores["collection"],
           "MADOGUCHI_DATA_DIR": str(work / name), "MADOGUCHI_EMBEDDER_THREADS": "1",
           "MADOGUCHI_RATE_LIMIT_PER_MINUTE": "0"}  # one client address: measure capacity, not the per-asker limit
    api = ApiProcess(env=env, log=work / f"{name}.log").launch()
    if cpu is not None:
        os.sched_setaffinity(api.proc.pid, {cpu})
    return api.wait(ready=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="keep the Chroma data here and reuse it on the next run (skips the ingest)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from app.retrieval.embedders import make_embedder
    from app.retrieval.tokenizer import Tokenizer
    from eval.bench import corpus_folders, golden_questions
    from eval.synthetic import make_synthetic_corpus
    from tests.servers import ChromaServer

    cpus = sorted(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="madoguchi-sizing-"))
    chroma = ChromaServer(args.keep or work / "chroma").start()
    result: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), "python": platform.python_version(),
                    "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]},
    }
    try:
        big = {"chroma_url": chroma.url, "collection": f"big{args.chunks}"}
        if not _has_corpus(big):
            embedder, tokenizer = make_embedder("use-m3", threads=len(cpus)), Tokenizer()
            folders = corpus_folders(SHARED / "corpora")
            file_chunks = count_chunks(SHARED / "corpora")
            synthetic = work / "synthetic"
            os.nice(10)  # the ingest shares the machine politely; the measurements below run at normal priority
            make_synthetic_corpus(folders=folders, out=synthetic, file_chunks=file_chunks, target_chunks=args.chunks)
            done = ingest(big, [synthetic], embedder=embedder, tokenizer=tokenizer)
            chunks = sum(f.chunks for f in done["report"].files if f.status in ("added", "updated"))
            result["ingest"] = {"chunks": chunks, "seconds": round(done["seconds"], 1), "chunks_per_s": round(chunks / done["seconds"], 1)}
            del embedder, tokenizer

        try:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
        except PermissionError:  # only root may raise the priority again: the figures below are then pessimistic
            result["machine"]["measured_at_nice"] = 10
        empty = replica({"chroma_url": chroma.url, "collection": "empty"}, work, "empty", cpu=None)
        base = rss_mib(empty.proc.pid)
        empty.stop()
        server_cpu = cpus[0]
        api = replica(big, work, "big", cpu=server_cpu)
        try:
            loaded = rss_mib(api.proc.pid)
            ready = __import__("httpx").get(api.url + "/readyz").json()
            result["memory"] = {
                "replica_base_mib": round(base, 0), "replica_with_chunks_mib": round(loaded, 0), "chunks": ready["chunks"],
                "replica_mib_per_10k_chunks": round((loaded - base) / ready["chunks"] * 10000, 0),
                "replica_peak_while_loading_mib": round(rss_mib(api.proc.pid, "VmHWM"), 0),
                "chroma_server_mib": round(rss_mib(chroma.proc.pid), 0),
            }
            others = [c for c in cpus if c != server_cpu]
            if others:
                os.sched_setaffinity(0, set(others))
                os.sched_setaffinity(chroma.proc.pid, set(others))
            questions = golden_questions(SHARED / "eval")
            asyncio.run(load(api.url, questions=questions, clients=1, max_requests=30, max_seconds=30))  # warm-up
            result["throughput_one_core"] = {
                "clients": args.clients,
                **asyncio.run(load(api.url, questions=questions, clients=args.clients, max_requests=args.requests, max_seconds=args.seconds)),
                "replica_rss_after_mib": round(rss_mib(api.proc.pid), 0),
                "replica_peak_rss_mib": round(rss_mib(api.proc.pid, "VmHWM"), 0),
            }
        finally:
            api.stop()
        result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        chroma.stop()
        shutil.rmtree(work, ignore_errors=True)  # --keep's directory is outside it
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
