"""Staff accounts in the query-log database: people (name, role, password hash), their server-side console
sessions, their personal API tokens (stored as SHA-256 hashes) and recent failed logins (shared by every replica).

Plain rows in, plain dataclasses out; hashing of passwords, policy and throttling live in app/ops/accounts.py."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.clock import as_utc, utcnow
from app.errors import BadRequestError, NotFoundError
from app.store.querylog_faq import Transactions
from app.store.querylog_schema import api_tokens, login_failures, staff_sessions, staff_users


@dataclass(frozen=True)
class StaffUser:
    name: str
    role: str  # staff | admin
    password_hash: str
    disabled: bool
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class SessionRow:
    actor: str
    role: str
    token_fp: str | None
    expires_at: datetime


def _user(row: sa.Row) -> StaffUser:
    m = row._mapping
    return StaffUser(
        name=m["name"],
        role=m["role"],
        password_hash=m["password_hash"],
        disabled=bool(m["disabled"]),
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
    )


def _no_user(name: str) -> NotFoundError:
    return NotFoundError(
        f"No staff account {name!r}.", f"スタッフアカウント {name!r} はありません。", code="user_not_found"
    )


class StaffAccounts:
    def __init__(self, log: Transactions) -> None:
        self.log = log

    # --- people ---
    def list(self) -> list[StaffUser]:
        with self.log.read() as conn:
            return [_user(r) for r in conn.execute(sa.select(staff_users).order_by(staff_users.c.name))]

    def get(self, name: str) -> StaffUser | None:
        with self.log.read() as conn:
            row = conn.execute(sa.select(staff_users).where(staff_users.c.name == name)).first()
        return _user(row) if row is not None else None

    def require(self, name: str) -> StaffUser:
        user = self.get(name)
        if user is None:
            raise _no_user(name)
        return user

    def create(self, *, name: str, role: str, password_hash: str) -> StaffUser:
        now = utcnow()
        try:
            with self.log.write() as conn:
                conn.execute(
                    staff_users.insert().values(
                        name=name,
                        role=role,
                        password_hash=password_hash,
                        disabled=False,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            raise BadRequestError(
                f"A staff account named {name!r} already exists.",
                f"{name!r} という名前のスタッフアカウントはすでにあります。",
                code="user_exists",
            ) from None
        return self.require(name)

    def update(self, name: str, **values: object) -> tuple[StaffUser, StaffUser]:
        """Change columns of one account; returns (before, after). Changing the password or disabling it also ends
        its sessions (and disabling removes its tokens) in the same transaction."""
        with self.log.write() as conn:
            row = conn.execute(sa.select(staff_users).where(staff_users.c.name == name)).first()
            if row is None:
                raise _no_user(name)
            conn.execute(staff_users.update().where(staff_users.c.name == name).values(updated_at=utcnow(), **values))
            if "password_hash" in values or values.get("disabled") or "role" in values:
                conn.execute(staff_sessions.delete().where(staff_sessions.c.actor == name))
            if values.get("disabled"):
                conn.execute(api_tokens.delete().where(api_tokens.c.user_name == name))
            after = conn.execute(sa.select(staff_users).where(staff_users.c.name == name)).one()
        return _user(row), _user(after)

    # --- console sessions ---
    def add_session(
        self, *, sid_hash: str, actor: str, role: str, expires_at: datetime, token_fp: str | None = None
    ) -> None:
        now = utcnow()
        with self.log.write() as conn:
            conn.execute(staff_sessions.delete().where(staff_sessions.c.expires_at < now))
            conn.execute(
                staff_sessions.insert().values(
                    id=sid_hash, actor=actor, role=role, token_fp=token_fp, created_at=now, expires_at=expires_at
                )
            )

    def get_session(self, sid_hash: str) -> SessionRow | None:
        with self.log.read() as conn:
            row = conn.execute(sa.select(staff_sessions).where(staff_sessions.c.id == sid_hash)).first()
        if row is None:
            return None
        m = row._mapping
        return SessionRow(actor=m["actor"], role=m["role"], token_fp=m["token_fp"], expires_at=as_utc(m["expires_at"]))

    def end_session(self, sid_hash: str) -> None:
        with self.log.write() as conn:
            conn.execute(staff_sessions.delete().where(staff_sessions.c.id == sid_hash))

    # --- personal API tokens ---
    def add_token(self, *, token_hash: str, user_name: str) -> None:
        with self.log.write() as conn:
            conn.execute(api_tokens.insert().values(id=token_hash, user_name=user_name, created_at=utcnow()))

    def token_owner(self, token_hash: str) -> str | None:
        with self.log.read() as conn:
            return conn.execute(sa.select(api_tokens.c.user_name).where(api_tokens.c.id == token_hash)).scalar()

    def token_count(self, user_name: str) -> int:
        with self.log.read() as conn:
            stmt = sa.select(sa.func.count()).select_from(api_tokens).where(api_tokens.c.user_name == user_name)
            return int(conn.execute(stmt).scalar() or 0)

    # --- failed logins (throttling) ---
    def add_failure(
        self, keys: builtins.list[str], *, at: datetime | None = None, forget_before: datetime | None = None
    ) -> None:
        """Record a failed login under each key; failures older than `forget_before` (everyone's) are deleted."""
        when = at or utcnow()
        with self.log.write() as conn:
            if forget_before is not None:
                conn.execute(login_failures.delete().where(login_failures.c.at < forget_before))
            conn.execute(login_failures.insert(), [{"key": k[:255], "at": when} for k in keys])

    def failures_since(self, key: str, since: datetime) -> builtins.list[datetime]:
        """The times of `key`'s failures at or after `since`, oldest first."""
        stmt = (
            sa.select(login_failures.c.at)
            .where(login_failures.c.key == key[:255], login_failures.c.at >= since)
            .order_by(login_failures.c.at)
        )
        with self.log.read() as conn:
            return [as_utc(r[0]) for r in conn.execute(stmt)]

    def clear_failures(self, key: str, *, older_than: datetime | None = None) -> None:
        with self.log.write() as conn:
            conn.execute(login_failures.delete().where(login_failures.c.key == key[:255]))
            if older_than is not None:
                conn.execute(login_failures.delete().where(login_failures.c.at < older_than))
