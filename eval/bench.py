"""`madoguchi bench`: speed and memory through the production code, on the shared corpora and a ~20k-chunk copy.

1. ingest the shared corpora into a temporary store (`Services.ingest`): characters/s and chunks/s;
   then the same again, unchanged (the manifest skips every file);
2. query embedding latency (`embedder.encode`, no cache) and retrieval latency (`app.answer.retrieve`), cold
   (the query vector is computed) and warm (the vector is in the embedder's LRU cache);
3. a synthetic corpus: the shared files copied again and again with perturbed text (digits shifted, headings
   tagged per copy) until it holds about `target_chunks` chunks, ingested the same way; retrieval latency on it;
4. a real server (`python -m app.cli serve` = uvicorn, a subprocess on a free 127.0.0.1 port) over the synthetic
   store, hit on `POST /api/ask` by 1, 4 and 16 concurrent clients (httpx, bounded requests and time) with the
   golden questions, each request a distinct wording so the query-vector cache does not flatter the numbers;
   latency p50/p95/p99, throughput, and the server's peak RSS (VmHWM in /proc); then 16 clients again asking
   the golden questions verbatim with every query vector already cached (`16_cached`: the cost of a request
   besides embedding the question).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from app.settings import Settings
from eval.loadtest import bench_server, proc_status_mib, say
from eval.metrics import mean, percentile
from eval.synthetic import make_synthetic_corpus
from eval.workspace import temp_settings

logger = logging.getLogger(__name__)

TARGETS = {
    "ask_p50_ms_16": 15.0,
    "ask_p99_ms_16": 60.0,
    "ingest_chars_per_s": 30000.0,
    "reingest_unchanged_s": 2.0,
    "server_peak_rss_mb": 1024.0,
}

_FALLBACK_QUESTIONS = [
    "有給休暇は入社後いつから取れますか？",
    "出張の日当はいくらですか？",
    "How do I request overtime?",
]


# ---------- inputs ----------


def golden_questions(eval_dir: Path) -> list[str]:
    qs: list[str] = []
    for path in sorted(Path(eval_dir).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line).get("question")
                if q:
                    qs.append(q)
    return qs or list(_FALLBACK_QUESTIONS)


def corpus_folders(corpora: Path) -> list[Path]:
    corpora = Path(corpora)
    if not corpora.is_dir():
        from app.errors import BadRequestError

        raise BadRequestError(
            f"Corpora folder not found: {corpora}", f"コーパスのフォルダが見つかりません: {corpora}", code="bad_dataset"
        )
    folders = sorted(p for p in corpora.iterdir() if p.is_dir() and not p.name.startswith("."))
    return folders or [corpora]


# ---------- in-process measurements ----------


def _stats(values: list[float]) -> dict:
    return {
        "n": len(values),
        "mean": round(mean(values), 2),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
    }


def _ingest(services, paths: list[Path]) -> dict:
    report = services.ingest(paths=paths).to_dict()
    secs = max(report["seconds"], 1e-9)
    return {
        "files": sum(report["counts"].get(k, 0) for k in ("added", "updated")),
        "failed": report["counts"].get("failed", 0),
        "chars": report["chars"],
        "chunks": report["chunks"],
        "seconds": round(secs, 2),
        "chars_per_s": round(report["chars"] / secs),
        "chunks_per_s": round(report["chunks"] / secs, 1),
    }


def measure_embedding(services, questions: list[str]) -> dict:
    lat = []
    for q in questions:
        t = time.perf_counter()
        services.embedder.encode([q])
        lat.append((time.perf_counter() - t) * 1000)
    return _stats(lat)


def measure_retrieval(services, questions: list[str]) -> dict:
    from app.answer import retrieve

    cache = getattr(services.embedder, "_cache", None)
    if cache is not None:
        cache.clear()
    out = {}
    for label in ("cold", "warm"):  # cold: the query vector is computed; warm: it comes from the LRU cache
        lat = []
        for q in questions:
            t = time.perf_counter()
            retrieve(q, services=services, k=services.settings.top_k)
            lat.append((time.perf_counter() - t) * 1000)
        out[label] = _stats(lat)
    from app.answer import answer

    lat = []
    for q in questions:  # the whole answer() (retrieve, confidence, compose) with cached vectors, no query log
        t = time.perf_counter()
        answer(question=q, services=services, record=False, origin="bench")
        lat.append((time.perf_counter() - t) * 1000)
    out["answer_warm"] = _stats(lat)
    return out


def measure_in_process(services, questions: list[str], *, levels: dict[int, int], log_path: Path) -> dict:
    """What `/api/ask` does, minus HTTP: `answer()` with a fresh question each time (its vector computed) and its row
    committed to a SQLite query log, at 1 and at the most concurrent level of threads: the baseline the server's
    latency and throughput are compared with (`ratios`)."""
    from concurrent.futures import ThreadPoolExecutor

    from app.answer import answer
    from app.store.querylog import QueryLog
    from eval.loadtest import question_variant

    services.query_log = QueryLog(f"sqlite:///{log_path}")
    out: dict = {}
    try:
        for threads in (1, max(levels)):
            n = levels[threads]
            start = 7_000_000 + threads * 100_000  # variants no other measurement asked (cold vectors)
            lat: list[float] = []

            def one(i: int, start: int = start, lat: list[float] = lat) -> None:
                t = time.perf_counter()
                answer(question=question_variant(questions, start + i), services=services, origin="bench")
                lat.append((time.perf_counter() - t) * 1000)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(one, range(n)))
            elapsed = time.perf_counter() - t0
            out[str(threads)] = {**_stats(lat), "throughput_rps": round(n / elapsed, 1)}
    finally:
        services.query_log.close()
        services.query_log = None
    return out


def serving_ratios(result: dict) -> dict:
    """HTTP against in-process, measured in one run: single-client p50 ratio (goal ≤ 1.5) and the most concurrent
    level's throughput share (goal ≥ 0.6)."""
    inproc = result.get("in_process") or {}
    levels = ((result.get("ask") or {}).get("levels")) or {}
    out: dict = {}
    one, http_one = inproc.get("1"), levels.get("1")
    if one and http_one and one.get("p50"):
        out["p50_ratio_1_client"] = round(http_one["p50_ms"] / one["p50"], 2)
    most = max((int(k) for k in inproc), default=0)
    if most > 1 and levels.get(str(most)) and inproc[str(most)].get("throughput_rps"):
        out[f"throughput_share_{most}_clients"] = round(
            levels[str(most)]["throughput_rps"] / inproc[str(most)]["throughput_rps"], 2
        )
    return out


# ---------- the whole run ----------


def machine() -> dict:
    mem = _meminfo_gib()
    return {
        "cpus": os.cpu_count(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _meminfo_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None
    return None


def _release_store() -> None:
    """Drop this process's cached Chroma clients so the server subprocess is the only one holding the store."""
    gc.collect()
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # noqa: BLE001 - best effort; the server only reads
        logger.debug("could not clear the Chroma client cache", exc_info=True)


def run_bench(
    *,
    settings: Settings,
    corpora: Path,
    eval_dir: Path,
    quick: bool = False,
    target_chunks: int | None = None,
    progress: bool = True,
    server: bool = True,
) -> tuple[dict, dict[str, list[float]]]:
    from app.services import build_services

    target = target_chunks or (5000 if quick else 20000)
    levels = {1: 60, 4: 120, 16: 240} if quick else {1: 300, 4: 600, 16: 1200}
    max_seconds = 20.0 if quick else 60.0
    folders = corpus_folders(corpora)
    questions = golden_questions(eval_dir)
    result: dict = {"machine": machine(), "embedder": settings.embedder, "quick": quick, "targets": {}}
    tmp = Path(tempfile.mkdtemp(prefix="madoguchi-bench-"))
    samples: dict[str, list[float]] = {}
    try:
        # 1. the shared corpora
        services = build_services(temp_settings(settings, tmp / "shared"), with_log=False)
        say(progress, f"ingesting {', '.join(f.name for f in folders)} …")
        result["ingest"] = _ingest(services, folders)
        say(progress, f"  {result['ingest']}")
        t = time.perf_counter()
        again = services.ingest(paths=folders)
        result["reingest_unchanged_s"] = round(time.perf_counter() - t, 3)
        result["reingest_counts"] = again.counts()
        say(progress, f"  unchanged re-ingest {result['reingest_unchanged_s']}s {again.counts()}")
        result["query_embedding_ms"] = measure_embedding(services, questions)
        result["retrieval_ms"] = {
            "shared": {"chunks": len(services.index.snapshot or []), **measure_retrieval(services, questions)}
        }
        say(progress, f"  query embedding {result['query_embedding_ms']}; retrieval {result['retrieval_ms']['shared']}")
        file_chunks = {}
        for folder in folders:
            for doc_id, rec in services.store.manifest().items():
                if rec.status == "ok" and (folder / doc_id).is_file():
                    file_chunks[f"{folder.name}/{doc_id}"] = rec.chunks
        embedder, tokenizer = services.embedder, services.tokenizer
        del services
        _release_store()

        # 2. the synthetic corpus
        synth_src = tmp / "synthetic-docs"
        made = make_synthetic_corpus(folders=folders, out=synth_src, file_chunks=file_chunks, target_chunks=target)
        say(progress, f"synthetic corpus: {made}; ingesting …")
        synth_settings = temp_settings(settings, tmp / "synthetic")
        services = build_services(synth_settings, with_log=False, embedder=embedder, tokenizer=tokenizer)
        result["synthetic"] = {**made, "ingest": _ingest(services, [synth_src])}
        result["synthetic"]["chunks"] = len(services.index.snapshot or [])
        result["retrieval_ms"]["synthetic"] = {
            "chunks": len(services.index.snapshot or []),
            **measure_retrieval(services, questions),
        }
        say(progress, f"  {result['synthetic']}; retrieval {result['retrieval_ms']['synthetic']}")
        if server:
            result["in_process"] = measure_in_process(
                services, questions, levels=levels, log_path=tmp / "in-process.db"
            )
            say(progress, f"  in-process answer() with the log: {result['in_process']}")
        del services
        _release_store()

        # 3. the HTTP server over the synthetic store
        if server:
            say(progress, "starting the server …")
            ask, samples = bench_server(
                tmp / "synthetic", questions=questions, levels=levels, max_seconds=max_seconds, progress=progress
            )
            result["ask"] = ask
            result["ratios"] = serving_ratios(result)
            say(progress, f"  HTTP vs in-process: {result['ratios']}")
        result["bench_process_peak_rss_mb"] = round(proc_status_mib(os.getpid(), "VmHWM") or 0, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = check_targets(result)
    return result, samples


def check_targets(result: dict) -> dict:
    ask16 = (result.get("ask") or {}).get("levels", {}).get("16", {})
    values = {
        "ask_p50_ms_16": ask16.get("p50_ms"),
        "ask_p99_ms_16": ask16.get("p99_ms"),
        "ingest_chars_per_s": (result.get("ingest") or {}).get("chars_per_s"),
        "reingest_unchanged_s": result.get("reingest_unchanged_s"),
        "server_peak_rss_mb": (result.get("ask") or {}).get("peak_rss_mb"),
    }
    out = {}
    for name, target in TARGETS.items():
        v = values.get(name)
        higher_is_better = name == "ingest_chars_per_s"
        met = None if v is None else (v >= target if higher_is_better else v <= target)
        out[name] = {"target": target, "value": v, "met": met, "rule": "≥" if higher_is_better else "≤"}
    return out


def format_bench(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"machine: {m['cpus']} CPUs, {m['memory_gib']} GiB, Python {m['python']}; embedder {result['embedder']}"
        + (" (quick)" if result.get("quick") else "")
        + (
            f"; load average {m['loadavg_at_start'][0]} at start, {m['loadavg_at_end'][0]} at end"
            if m.get("loadavg_at_start") and m.get("loadavg_at_end")
            else ""
        )
    ]
    i = result.get("ingest")
    if i:
        lines.append(
            f"ingest shared corpora: {i['files']} files, {i['chars']:,} chars, {i['chunks']} chunks in {i['seconds']}s "
            f"→ {i['chars_per_s']:,} chars/s, {i['chunks_per_s']} chunks/s ({i['failed']} files failed)"
        )
        lines.append(f"unchanged re-ingest: {result['reingest_unchanged_s']}s {result.get('reingest_counts')}")
    e = result.get("query_embedding_ms")
    if e:
        lines.append(f"query embedding: mean {e['mean']} ms, p50 {e['p50']} ms, p95 {e['p95']} ms (n={e['n']})")
    for label, r in (result.get("retrieval_ms") or {}).items():
        lines.append(
            f"retrieval over {label} ({r['chunks']} chunks): cold mean {r['cold']['mean']} / p95 {r['cold']['p95']} ms; "
            f"warm mean {r['warm']['mean']} / p95 {r['warm']['p95']} ms"
            + (
                f"; answer() warm mean {r['answer_warm']['mean']} / p95 {r['answer_warm']['p95']} ms"
                if "answer_warm" in r
                else ""
            )
        )
    s = result.get("synthetic")
    if s:
        si = s["ingest"]
        lines.append(
            f"synthetic corpus: {s['files']} files ({s['copies']} copies), {s['chunks']} chunks, {si['chars']:,} chars in "
            f"{si['seconds']}s → {si['chars_per_s']:,} chars/s, {si['chunks_per_s']} chunks/s"
        )
    a = result.get("ask")
    if a:
        lines.append(f"/api/ask over {a['chunks']} chunks (server start {a['startup_s']}s):")
        lines.append("    clients  requests  errors  req/s    mean     p50     p95     p99 (ms)")
        for clients, r in a["levels"].items():
            errs = sum(r["errors"].values())
            lines.append(
                f"  {clients:>9}  {r['requests']:8}  {errs:6}  {r['throughput_rps']:5}  {r['mean_ms']:6}  {r['p50_ms']:6}  "
                f"{r['p95_ms']:6}  {r['p99_ms']:6}"
            )
        lines.append(f"server RSS: peak {a['peak_rss_mb']} MiB, after the run {a['rss_after_mb']} MiB")
    for threads, r in (result.get("in_process") or {}).items():
        lines.append(
            f"in-process answer() with the query log, {threads} thread(s): p50 {r['p50']} ms, p99 {r['p99']} ms, "
            f"{r['throughput_rps']} req/s"
        )
    if result.get("ratios"):
        lines.append(f"HTTP vs in-process (one run): {result['ratios']}")
    lines.append("targets:")
    for name, t in result.get("targets", {}).items():
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append(f"  {name}: {t['value']} (target {t['rule']} {t['target']:g}) {verdict}")
    return "\n".join(lines)
