"""`madoguchi` command line: ingest, ask, serve, documents, users (app/cli_users.py), and `eval` / `bench` (registered by eval/cli.py).

`ask`, `documents` and `ingest` go through a running server when one holds the embedded store. The serving stack
(FastAPI, uvicorn, Slack) and the answering stack (stores, embedder) are imported inside the commands that use
them, so a command that only talks to a running server starts in a fraction of a second."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import httpx
from threadpoolctl import threadpool_limits

from app.cli_adapt import register as register_adapt
from app.cli_users import register as register_users
from app.errors import MadoguchiError
from app.models_cli import register as register_models
from app.settings import Settings, get_settings
from app.store import runfile
from app.store.chroma import ChunkStore
from eval.cli import register as register_eval

logger = logging.getLogger(__name__)


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    paths = [Path(p).resolve() for p in args.paths]
    holder = None if settings.chroma_url else runfile.ServerRun.claim(settings, url="cli")
    if not settings.chroma_url and holder is None:
        server = runfile.held_by_server(settings)
        if server is None or not str(server.get("url", "")).startswith(
            ("http://", "https://")
        ):  # e.g. another `madoguchi ingest`
            print("データディレクトリが別のプロセスで使用中です / the data dir is busy", file=sys.stderr)
            return 2
        report = _ingest_via_server(server, paths, args.prune)
    else:
        try:
            from app.services import build_services  # deferred: the stores and the embedder (see the docstring)

            services = build_services(settings, load_index=False, with_log=False)
            report = services.ingest(paths=paths, prune=args.prune, progress=not args.json).to_dict()
        finally:
            if holder is not None:
                holder.release()
    failed = [f for f in report["files"] if f["status"] == "failed"]
    if args.json:
        _print_json(report)
    else:
        for f in report["files"]:
            mark = {"added": "+", "updated": "~", "unchanged": "=", "removed": "-", "failed": "!"}.get(f["status"], "?")
            line = f"{mark} {f['doc_id']}  [{f['status']}]"
            if f["status"] in ("added", "updated"):
                line += f"  {f['chunks']} chunks"
            if f.get("error"):
                line += f"  {f.get('error_ja') or f['error']}"
            print(line)
        counts = report["counts"]
        print(
            f"corpus version {report['version']}: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + f" ({report['seconds']:.2f}s)"
        )
    return 1 if failed else 0


def _ingest_via_server(server: dict, paths: list[Path], prune: bool) -> dict:
    url = server["url"].rstrip("/") + "/api/admin/ingest"
    print(f"a running server holds the store; ingesting through {url}", file=sys.stderr)
    resp = httpx.post(
        url,
        json={"paths": [str(p) for p in paths], "prune": prune, "by": "cli"},  # the documents page: 「コマンド」
        headers={"Authorization": f"Bearer {server['token']}"},
        timeout=None,
    )
    if 400 <= resp.status_code < 500:  # e.g. 403: a path outside the server's docs folder
        try:
            data = resp.json()
        except ValueError:
            data = {}
        raise MadoguchiError(
            str(data.get("detail_en") or resp.text), str(data.get("detail") or resp.text), code=data.get("error")
        )
    resp.raise_for_status()
    return resp.json()


def _running_server(settings: Settings) -> dict | None:
    """The server holding the embedded store, if any: reads go through it (one process per Chroma directory)."""
    if settings.chroma_url:
        return None
    server = runfile.held_by_server(settings)
    if server and str(server.get("url", "")).startswith(("http://", "https://")):
        return server
    return None


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    server = _running_server(settings)
    if server is not None:
        resp = httpx.post(
            server["url"].rstrip("/") + "/api/ask",
            timeout=60,
            json={"question": args.question, "category": args.category, "user_id": args.user, "channel": "cli"},
        )
        data = resp.json()
        if resp.status_code != 200:
            print(f"error: {data.get('detail')}", file=sys.stderr)
            return 2
    else:
        # Deferred: the stores and the embedder (see the docstring).
        from app.answer import answer
        from app.services import build_services

        services = build_services(settings)
        data = answer(
            question=args.question, services=services, category=args.category, origin="cli", user_id=args.user
        ).to_api()
    if args.json:
        _print_json(data)
    else:
        print(data["answer"])
        print()
        print(f"[{data['outcome']}] confidence={data['confidence']:.2f}")
        if data["outcome"] == "escalated" and data.get("follow_up_token"):  # the reply tells how to fetch the answer
            print(f"follow_up_token={data['follow_up_token']}  (query_id={data['query_id']})")
        for i, s in enumerate(data["sources"], 1):
            page = f" p.{s['page']}" if s.get("page") else ""
            print(f"  [{i}] {s['section']}{page}  ({s['source']}, score {s['score']:.3f})")
    return 0


def limit_blas_threads() -> None:
    """A server answers many small questions at once, one per thread: one BLAS thread each keeps the cores busy
    with work instead of contention (measured in eval/RESULTS.md). Encoding batches raise it for their own call."""
    threadpool_limits(1, user_api="blas")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    # Deferred: the serving stack (FastAPI, uvicorn, Slack), about a second to import (see the docstring).
    import uvicorn

    from app.main import create_app

    settings = settings.model_copy(update={"host": args.host or settings.host, "port": args.port or settings.port})
    limit_blas_threads()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    server = _running_server(settings)
    if server is not None:
        resp = httpx.get(
            server["url"].rstrip("/") + "/api/admin/documents",
            timeout=60,
            headers={"Authorization": f"Bearer {server['token']}"},
        )
        resp.raise_for_status()
        docs = resp.json()["documents"]
    else:
        docs = [r.to_metadata() for r in ChunkStore(settings).manifest().values()]
    docs.sort(key=lambda d: d["source"])
    if args.json:
        _print_json(docs)
        return 0
    for d in docs:
        err = f"  {d['error']}" if d.get("error") else ""
        print(f"{d['status']:7} {d['category']:10} {d['chunks']:5} chunks  {d['source']}  ({d['title']}){err}")
    return 0


def _query_log(settings: Settings):
    """The query log alone: a running server may hold the chunk store, the database takes both."""
    from app.store.querylog import QueryLog  # deferred: SQLAlchemy and the migrations

    return QueryLog.from_settings(settings)


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from app.ops.retention import purge_log

    if args.days is None and settings.log_retention_days is None:
        print(
            "MADOGUCHI_LOG_RETENTION_DAYS が未設定です（--days で指定できます） / no retention set (use --days)",
            file=sys.stderr,
        )
        return 2
    log = _query_log(settings)
    try:
        deleted = purge_log(log, settings, days=args.days)
    finally:
        log.close()
    print(
        f"{deleted} 件の質問を削除しました（月別の集計は残ります） / {deleted} questions deleted (monthly counts kept)"
    )
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from app.ops.retention import forget_in_log

    log = _query_log(settings)
    try:
        deleted = forget_in_log(log, settings, args.user)
    finally:
        log.close()
    if args.json:
        _print_json({"deleted": deleted})
    else:
        print(f"{deleted} 件を削除しました（月別の集計は残ります） / {deleted} rows deleted (monthly counts kept)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="madoguchi", description="Madoguchi (窓口): FAQ bot for general affairs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="ingest files or folders of manuals (incremental; unchanged files are skipped)")
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are no longer there")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="ask a question (same answer as POST /api/ask)")
    p.add_argument("question")
    p.add_argument("--category", help="attendance | expense | supplies | other")
    p.add_argument("--user", help="user id to log")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="serve the HTTP API (and Slack, console when configured)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("documents", help="list ingested documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_documents)

    register_adapt(sub)  # `madoguchi adapt`
    register_users(sub)  # `madoguchi users …` (app/cli_users.py)
    p = sub.add_parser("purge", help="delete questions older than MADOGUCHI_LOG_RETENTION_DAYS (counts are kept)")
    p.add_argument("--days", type=int, help="override the retention period (days, at least 1)")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("forget", help="delete one asker's questions, feedback and Slack metadata (counts are kept)")
    p.add_argument("--user", required=True, help="the asker's user id (as logged: Slack user id or API user_id)")
    p.add_argument("--json", action="store_true", help='print {"deleted": n}')
    p.set_defaults(func=cmd_forget)

    register_eval(sub)  # `madoguchi eval …`, `madoguchi bench`
    register_models(sub)  # `madoguchi models fetch|check`, `calibrate`, `reembed`
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.func(args, get_settings())
    except MadoguchiError as exc:
        print(f"error: {exc.detail_ja}\n       {exc.detail_en}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
