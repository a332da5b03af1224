"""`madoguchi adapt`: train the deployment's query adapter on its own use (app/ops/adapt.py), or roll it back.

Through the running server when one holds the embedded store (like `ask`), else in this process against the
configured stores; either way the new version lands in the shared database and every replica follows it."""

from __future__ import annotations

import argparse
import json
import sys

import httpx

from app.settings import Settings


def cmd_adapt(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli import _running_server  # the CLI's one definition of "a server holds the store"

    server = _running_server(settings)
    if server is not None:
        path = "/api/admin/adapter/rollback" if args.rollback else "/api/admin/adapter/train"
        resp = httpx.post(
            server["url"].rstrip("/") + path, timeout=3600, headers={"Authorization": f"Bearer {server['token']}"}
        )
        data = resp.json()
        if resp.status_code != 200:
            print(f"error: {data.get('detail')}", file=sys.stderr)
            return 2
    else:
        from app.ops import adapt
        from app.services import build_services

        services = build_services(settings)
        if args.rollback:
            now = adapt.rollback(services)
            data = {"active": now.to_dict() if now else None}
        else:
            data = adapt.adapt(services, by="cli").to_dict()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    elif args.rollback:
        active = data["active"]
        print(f"rolled back: now serving {'v' + str(active['version']) if active else 'the shipped adapter'}")
    else:
        before, after = data["heldout_hit1_before"], data["heldout_hit1_after"]
        print(f"pairs {data['pairs']} ({data['by_kind']}), held-out {data['heldout']}")
        if before is not None:
            print(f"held-out rank-1 {before:.3f} -> {after:.3f}")
        print(f"{data['reason']}: version {data['version']}, active {data['active_version']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "adapt",
        help="train the query adapter on staff answers with citations, feedback and FAQ wordings (or roll back)",
    )
    p.add_argument("--rollback", action="store_true", help="serve the previous version instead")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_adapt)
