"""`madoguchi users …`: staff accounts from the command line (first setup, scripts). Works on the query-log database
directly (SQLite in MADOGUCHI_DATA_DIR or MADOGUCHI_DATABASE_URL), so it runs beside a running server; every
change is recorded in the audit trail as done by "cli"."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from app.errors import BadRequestError
from app.settings import Settings

CLI_ACTOR = "cli"


def _log(settings: Settings):
    from app.store.querylog import QueryLog  # deferred: SQLAlchemy and the migrations only for these commands

    return QueryLog.from_settings(settings)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("パスワード / password: ")
    if getpass.getpass("もう一度 / again: ") != first:
        raise BadRequestError("The passwords differ.", "パスワードが一致しません。", code="password_mismatch")
    return first


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from app.ops import accounts

    log = _log(settings)
    try:
        if args.users_command == "add":
            user = accounts.add_user(
                log, name=args.name, role=args.role, password=_read_password(args), actor=CLI_ACTOR
            )
            print(f"added {user.name} ({user.role})")
        elif args.users_command == "token":
            token = accounts.new_token(log, args.name, actor=CLI_ACTOR)
            print(token)
            print(
                "この個人用トークンは今回だけ表示されます。Authorization: Bearer <トークン> で使います。\n"
                "This personal token is shown only once; send it as Authorization: Bearer <token>.",
                file=sys.stderr,
            )
        elif args.users_command == "disable":
            accounts.set_disabled(log, args.name, True, actor=CLI_ACTOR)
            print(f"disabled {args.name}")
        elif args.users_command == "enable":
            accounts.set_disabled(log, args.name, False, actor=CLI_ACTOR)
            print(f"enabled {args.name}")
        elif args.users_command == "password":
            accounts.set_password(log, args.name, _read_password(args), actor=CLI_ACTOR)
            print(f"password changed for {args.name}")
        else:  # list
            users = accounts.list_users(log)
            if args.json:
                print(json.dumps([u.to_dict() for u in users], ensure_ascii=False, indent=2))
            for u in [] if args.json else users:
                print(f"{u.name}\t{u.role}\t{'disabled' if u.disabled else 'active'}")
    finally:
        log.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="staff accounts: add, token, disable, enable, password, list")
    users = p.add_subparsers(dest="users_command", required=True)
    a = users.add_parser("add", help="add a staff account")
    a.add_argument("name")
    a.add_argument("--role", choices=("staff", "admin"), default="staff")
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    t = users.add_parser("token", help="print a new personal API token (shown once)")
    t.add_argument("name")
    for verb in ("disable", "enable"):
        d = users.add_parser(verb, help=f"{verb} an account (disable: its sessions and tokens stop at once)")
        d.add_argument("name")
    pw = users.add_parser("password", help="set a new password (ends the account's sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    ls = users.add_parser("list", help="list the accounts")
    ls.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_users)
