"""`madoguchi models fetch|check`, `madoguchi calibrate` and `madoguchi reembed` (registered into app/cli.py's parser
by `register`). The work is done by app/ops/models.py, app/ops/calibration.py and app/ops/reembed.py."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.settings import Settings


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n else "?"


def cmd_models_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from app.ops.models import fetch, fetch_plan

    plan = fetch_plan(args.profile, Path(args.to))
    if not plan:
        print(
            f"プロファイル {args.profile} にダウンロードするモデルはありません / nothing to download for {args.profile}"
        )
        return 0
    if args.dry_run:
        for item in plan:
            print(f"{item.kind:9} {item.repo}  →  {item.target}")
        return 0
    rows = fetch(args.profile, Path(args.to), log=lambda m: print(m, file=sys.stderr))
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(f"{r['kind']:9} {r['repo']}  {_mb(r['bytes'])}  ({r['seconds']} s)")
        print(
            f"サーバーにコピーして設定してください / copy the folder to the server and set:\n"
            f"  MADOGUCHI_PROFILE={args.profile}\n  MADOGUCHI_MODELS_DIR={Path(args.to).resolve()}"
        )
    return 0


def cmd_models_check(args: argparse.Namespace, settings: Settings) -> int:
    from app.ops.models import check_models

    rows = check_models(settings)
    if args.json:
        _print_json({"profile": settings.profile, "models": [r.to_dict() for r in rows]})
    else:
        print(f"profile {settings.profile} (HF_HUB_OFFLINE=1)")
        for r in rows:
            mark = "ok" if r.ok else "NG"
            params = f", {r.parameters / 1e6:.1f}M params" if r.parameters else ""
            line = f"[{mark}] {r.kind:9} {r.name}  {_mb(r.bytes)}{params}, loaded in {r.load_s:.2f} s  ({r.location})"
            if r.error:
                line += f"\n      読み込めません / cannot load: {r.error}"
            print(line)
    return 0 if all(r.ok for r in rows) else 1


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from app.ops.calibration import calibrate, calibration_path, save_calibration
    from app.services import build_services
    from app.store import runfile

    # One process per embedded Chroma directory: calibrate reads the store itself, so it needs the data dir free.
    holder = None if settings.chroma_url else runfile.ServerRun.claim(settings, url="cli")
    if not settings.chroma_url and holder is None:
        print(
            "データディレクトリが使用中です。サーバーを停止してから実行してください / the data dir is busy: stop the server first",
            file=sys.stderr,
        )
        return 2
    try:
        services = build_services(settings, with_log=False)
        cal = calibrate(services=services, questions=Path(args.questions))
    finally:
        if holder is not None:
            holder.release()
    path = calibration_path(settings)
    if not args.dry_run:
        save_calibration(cal, path)
    if args.json:
        _print_json({**cal.to_dict(), "file": str(path), "saved": not args.dry_run})
        return 0
    r = cal.report

    def line(label: str, p: dict) -> str:
        prec = "—" if p["precision"] is None else f"{p['precision']:.3f}"
        return f"  {label:28} precision {prec}  deflection {p['deflection']:.3f}  answered {p['answered']}"

    print(f"{cal.questions} questions ({r['answerable']} answerable), right at rank 1: {r['right_at_rank_1']:.3f}")
    print(line("before / 校正前", r["before"]))
    print(line("after, in-sample / 校正後", r["after_in_sample"]))
    print(line("after, 5-fold CV / 交差検証", r["after_cross_validated"]))
    print(f"threshold {cal.threshold} (P(right) ≥ c/(1+c), c = 3)")
    if cal.rerank_weights:
        w_conf, w_rerank, bias = cal.rerank_weights
        print(f"reranker layer: {w_conf:+.2f} × logit(confidence) {w_rerank:+.2f} × reranker z {bias:+.2f}")
    print(
        "not saved (--dry-run)"
        if args.dry_run
        else f"saved to {path}; restart the server to use it / サーバーを再起動すると反映されます"
    )
    return 0


def cmd_reembed(args: argparse.Namespace, settings: Settings) -> int:
    from app.ops.reembed import reembed
    from app.retrieval.embedders import make_embedder
    from app.store import runfile
    from app.store.chroma import ChunkStore

    if args.embedder:
        settings = settings.model_copy(update={"embedder": args.embedder})
    holder = None if settings.chroma_url else runfile.ServerRun.claim(settings, url="cli")
    if not settings.chroma_url and holder is None:
        server = runfile.held_by_server(settings)
        if server and str(server.get("url", "")).startswith(("http://", "https://")):
            return _reembed_via_server(server, settings.embedder, as_json=args.json)
        print("データディレクトリが使用中です / the data dir is busy", file=sys.stderr)
        return 2
    try:
        embedder = make_embedder(
            settings.embedder,
            threads=settings.embedder_threads,
            models_dir=settings.models_dir,
            device=settings.model_device,
        )

        def progress(done: int, total: int) -> None:
            if not args.json:
                print(f"\r再埋め込み / re-embedding {done}/{total}", end="", file=sys.stderr, flush=True)

        report = reembed(store=ChunkStore(settings), embedder=embedder, progress=progress)
    finally:
        if holder is not None:
            holder.release()
    if args.json:
        _print_json(report.to_dict())
    else:
        print(file=sys.stderr)
        print(
            f"{report.chunks} chunks: {report.old_embedder or '-'} → {report.new_embedder}, corpus version "
            f"{report.version} ({report.seconds:.1f} s). Start the server with MADOGUCHI_EMBEDDER={report.new_embedder}."
        )
    return 0


def _reembed_via_server(server: dict, embedder: str, *, as_json: bool, poll_s: float = 1.0) -> int:
    """A server holds the store: it re-embeds in the background (answering meanwhile); follow its progress."""
    import time

    import httpx

    url = server["url"].rstrip("/") + "/api/admin/reembed"
    headers = {"Authorization": f"Bearer {server['token']}"}
    print(f"a running server holds the store; re-embedding in its background through {url}", file=sys.stderr)
    resp = httpx.post(url, json={"embedder": embedder}, headers=headers, timeout=None)
    if resp.status_code != 202:
        body = resp.json()
        print(f"error: {body.get('detail')}", file=sys.stderr)
        return 2
    while True:
        job = httpx.get(url, headers=headers, timeout=60).json()
        if not as_json:
            print(f"\r再埋め込み / re-embedding {job['done']}/{job['total']}", end="", file=sys.stderr, flush=True)
        if job["state"] != "running":
            break
        time.sleep(poll_s)
    if as_json:
        _print_json(job)
    else:
        print(file=sys.stderr)
        print(
            job.get("error_ja")
            or job.get("error")
            or f"done: the server now answers with {job['embedder']}. "
            f"Set MADOGUCHI_EMBEDDER={job['embedder']} before its next restart."
        )
    return 0 if job["state"] == "done" else 1


def register(sub) -> None:
    p = sub.add_parser("models", help="download (fetch) and verify (check) the models of a profile")
    msub = p.add_subparsers(dest="models_command", required=True)
    f = msub.add_parser(
        "fetch", help="download a profile's Hugging Face models into a folder (run where there is internet)"
    )
    f.add_argument("profile", help="offline | ja-quality | llm (app/data/profiles.yaml)")
    f.add_argument("--to", required=True, help="target folder; then set MADOGUCHI_MODELS_DIR to it on the server")
    f.add_argument("--dry-run", action="store_true", help="print what would be downloaded, and where")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_models_fetch)
    c = msub.add_parser("check", help="load every configured model offline; print size and load time")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_models_check)

    p = sub.add_parser(
        "calibrate", help="fit the confidence calibration on your own labeled questions (golden-set JSONL)"
    )
    p.add_argument("--questions", required=True, help="JSONL: id, question, answerable, source, section (as `eval qa`)")
    p.add_argument("--dry-run", action="store_true", help="report only; do not write the calibration file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser(
        "reembed", help="re-embed the store with another embedder: built beside the old, swapped at once"
    )
    p.add_argument("--embedder", help="the new embedder (default: MADOGUCHI_EMBEDDER)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reembed)
