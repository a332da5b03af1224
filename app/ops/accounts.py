"""Staff accounts: people with a name, a role and a password (argon2), personal API tokens for scripts (hashed at
rest, shown once) and server-side console sessions, so logging out, changing a password or disabling an account
ends its sessions at once on every replica. Login attempts are throttled by app/ops/login_throttle.py.

Roles: `staff` use the console's daily pages (unresolved questions, the query log, FAQ, company words, history);
`admin` also the documents and the staff pages. The shared MADOGUCHI_ADMIN_TOKEN acts as the admin "admin-token".

Shared by the console's 「スタッフ」 page, the login form, the admin API's credentials check and `madoguchi users`.
Account functions take the query log (the CLI has no chunk store to open), and record every change in the audit
trail."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.clock import utcnow
from app.errors import AuthError, BadRequestError, ConfigError
from app.ops.audit import ADMIN_TOKEN_ACTOR, SYSTEM_ACTOR, audit_to
from app.ports import QueryLogPort
from app.settings import Settings
from app.store.accounts import StaffUser

Role = Literal["staff", "admin"]
ROLES: tuple[Role, ...] = ("staff", "admin")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_NAME = 64
NAME_FORBIDDEN = frozenset("/\\?#%")  # a name is part of console URLs (/console/users/NAME/…)
MIN_ADMIN_TOKEN = 16
TOKEN_PREFIX = "mdg_"
RESERVED_NAMES = frozenset({ADMIN_TOKEN_ACTOR, SYSTEM_ACTOR, "cli", "console", "admin-token"})

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("madoguchi-no-such-account")  # verified against when the name is unknown (same timing)


@dataclass(frozen=True)
class Actor:
    """Who is acting: an account name (or "admin-token" for the shared token) and its role."""

    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ADMIN_TOKEN = Actor(ADMIN_TOKEN_ACTOR, "admin")


def check_admin_token(settings: Settings) -> None:
    """Start-up check: a shared admin token, when set, is long enough not to be guessed."""
    token = settings.admin_token
    if token is not None and len(token.strip()) < MIN_ADMIN_TOKEN:
        raise ConfigError(
            f"MADOGUCHI_ADMIN_TOKEN is too short ({len(token.strip())} characters; at least {MIN_ADMIN_TOKEN}). "
            'Use a random one, e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`.',
            f"MADOGUCHI_ADMIN_TOKEN が短すぎます（{len(token.strip())} 文字。{MIN_ADMIN_TOKEN} 文字以上必要です）。"
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"` などで作ったランダムな値を設定してください。',
            code="admin_token_too_short",
        )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- validation ---
def clean_name(name: str | None) -> str:
    text = unicodedata.normalize("NFC", (name or "").strip())
    if not text:
        raise BadRequestError("Enter a name.", "名前を入力してください。", code="user_name_empty")
    if len(text) > MAX_NAME or any(unicodedata.category(c)[0] in "CZ" or c in NAME_FORBIDDEN for c in text):
        raise BadRequestError(
            f"A name is 1–{MAX_NAME} characters without spaces, control characters or / \\ ? # % (e.g. yamada or 山田).",
            f"名前は空白・制御文字・/ \\ ? # % を含まない {MAX_NAME} 文字以内にしてください（例: yamada、山田）。",
            code="user_name_invalid",
        )
    if text.lower() in RESERVED_NAMES:
        raise BadRequestError(
            f"The name {text!r} is reserved; choose another.",
            f"{text!r} は予約された名前です。別の名前にしてください。",
            code="user_name_reserved",
        )
    return text


def clean_role(role: str | None) -> Role:
    if role not in ROLES:
        raise BadRequestError(
            f"Unknown role {role!r}: use staff or admin.",
            f"不明な権限 {role!r} です。staff（スタッフ）か admin（管理者）を指定してください。",
            code="bad_role",
        )
    return role  # narrowed to Role by the membership test


def check_password(password: str | None) -> str:
    pw = password or ""
    if len(pw) < MIN_PASSWORD:
        raise BadRequestError(
            f"The password is too short: at least {MIN_PASSWORD} characters.",
            f"パスワードが短すぎます。{MIN_PASSWORD} 文字以上にしてください。",
            code="password_too_short",
        )
    if len(pw) > MAX_PASSWORD:
        raise BadRequestError(
            f"The password is too long: at most {MAX_PASSWORD} characters.",
            f"パスワードが長すぎます。{MAX_PASSWORD} 文字以内にしてください。",
            code="password_too_long",
        )
    return pw


# --- accounts ---
def list_users(log: QueryLogPort) -> list[StaffUser]:
    return log.accounts.list()


def add_user(log: QueryLogPort, *, name: str, role: str, password: str, actor: str) -> StaffUser:
    user = log.accounts.create(
        name=clean_name(name), role=clean_role(role), password_hash=_hasher.hash(check_password(password))
    )
    audit_to(log, actor=actor, action="user.add", target_type="user", target_id=user.name, after=_public(user))
    return user


def set_password(log: QueryLogPort, name: str, password: str, *, actor: str) -> StaffUser:
    """A new password (reset by an admin or changed by its owner); every session of the account ends."""
    digest = _hasher.hash(check_password(password))
    _, after = log.accounts.update(name, password_hash=digest)
    audit_to(log, actor=actor, action="user.password", target_type="user", target_id=name, after=_public(after))
    return after


def change_own_password(log: QueryLogPort, actor: Actor, *, current: str, new: str) -> StaffUser:
    """A person changes their own password (the current one is checked first); every session of theirs ends."""
    if actor.name == ADMIN_TOKEN_ACTOR or verify_password(log, actor.name, current) is None:
        raise AuthError("The current password is wrong.", "現在のパスワードが正しくありません。", code="wrong_password")
    return set_password(log, actor.name, new, actor=actor.name)


def set_role(log: QueryLogPort, name: str, role: str, *, actor: str) -> StaffUser:
    """Make an account staff or admin; its sessions end so the new role applies at once."""
    if name == actor:
        raise BadRequestError("You cannot change your own role.", "自分の権限は変更できません。", code="user_self_role")
    before, after = log.accounts.update(name, role=clean_role(role))
    audit_to(
        log,
        actor=actor,
        action="user.role",
        target_type="user",
        target_id=name,
        before=_public(before),
        after=_public(after),
    )
    return after


def set_disabled(log: QueryLogPort, name: str, disabled: bool, *, actor: str) -> StaffUser:
    """Disable (its sessions end and its tokens are deleted at once) or enable an account."""
    if disabled and name == actor:
        raise BadRequestError(
            "You cannot disable your own account.", "自分のアカウントは無効にできません。", code="user_self_disable"
        )
    before, after = log.accounts.update(name, disabled=disabled)
    audit_to(
        log,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        target_type="user",
        target_id=name,
        before=_public(before),
        after=_public(after),
    )
    return after


def new_token(log: QueryLogPort, name: str, *, actor: str) -> str:
    """A new personal API token for `name` (shown once; only its hash is kept)."""
    user = log.accounts.require(name)
    if user.disabled:
        raise BadRequestError(
            f"The account {name!r} is disabled.", f"アカウント {name!r} は無効になっています。", code="user_disabled"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    log.accounts.add_token(token_hash=_sha(token), user_name=name)
    audit_to(
        log,
        actor=actor,
        action="user.token",
        target_type="user",
        target_id=name,
        after={"tokens": log.accounts.token_count(name)},
    )
    return token


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in text)


def _public(user: StaffUser) -> dict:
    return {"name": user.name, "role": user.role, "disabled": user.disabled}


# --- credentials ---
def verify_password(log: QueryLogPort, name: str, password: str) -> Actor | None:
    """The account's actor when the name and password match an enabled account, else None."""
    if len(password) > MAX_PASSWORD or len(name) > 4 * MAX_NAME or _has_control(name + password):
        return None  # no account has such a password or name (and PostgreSQL takes no NUL): no hash, no query
    user = log.accounts.get(unicodedata.normalize("NFC", name.strip()))
    digest = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    return Actor(user.name, clean_role(user.role))


def actor_for_token(log: QueryLogPort | None, token: str) -> Actor | None:
    """The account behind a personal API token (None: unknown token, or its account is disabled or gone)."""
    if log is None or not token.startswith(TOKEN_PREFIX):
        return None
    name = log.accounts.token_owner(_sha(token))
    user = log.accounts.get(name) if name else None
    if user is None or user.disabled:
        return None
    return Actor(user.name, clean_role(user.role))


def shared_token_ok(tokens: list[str], token: str) -> bool:
    return bool(token) and any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens)


# --- console sessions (the cookie holds a random secret; the database its hash) ---
def open_session(log: QueryLogPort, settings: Settings, actor: Actor) -> str:
    secret = secrets.token_urlsafe(32)
    log.accounts.add_session(
        sid_hash=_sha(secret),
        actor=actor.name,
        role=actor.role,
        expires_at=utcnow() + timedelta(hours=settings.session_hours),
        token_fp=_token_fp(settings) if actor == ADMIN_TOKEN else None,
    )
    return secret


def session_actor(log: QueryLogPort, settings: Settings, secret: str) -> Actor | None:
    """The actor of a live session: not expired, not logged out, its account enabled (an admin-token session: the
    token it was opened with is still the configured one)."""
    row = log.accounts.get_session(_sha(secret))
    if row is None or row.expires_at <= utcnow():
        return None
    if row.actor == ADMIN_TOKEN_ACTOR:
        fp = _token_fp(settings)
        return (
            ADMIN_TOKEN
            if fp is not None and row.token_fp is not None and hmac.compare_digest(fp, row.token_fp)
            else None
        )
    user = log.accounts.get(row.actor)
    if user is None or user.disabled:
        return None
    return Actor(user.name, clean_role(user.role))


def close_session(log: QueryLogPort, secret: str) -> None:
    log.accounts.end_session(_sha(secret))


def csrf_for(secret: str) -> str:
    return _sha("csrf\0" + secret)[:40]


def _token_fp(settings: Settings) -> str | None:
    return _sha("admin-token\0" + settings.admin_token) if settings.admin_token else None


def refuse_login() -> AuthError:
    return AuthError("Wrong name or password.", "名前またはパスワードが正しくありません。", code="login_failed")


def login(
    log: QueryLogPort, settings: Settings, *, name: str, password: str, ip: str | None, shared_tokens: list[str]
) -> Actor:
    """Check a console login, throttled per account and per address (429 while over the limit). An empty name with
    the shared admin token as the password logs in as "admin-token" (first setup, before any account exists)."""
    from app.ops import (
        login_throttle,  # the throttle is a sibling service; imported here to keep this module's top lean
    )

    # The throttle's key for this attempt; a name no account can have (control characters, too long) counts as one.
    account = name.strip() or ADMIN_TOKEN_ACTOR
    if _has_control(account) or len(account) > 4 * MAX_NAME:
        account = "(invalid name)"
    login_throttle.check(log, settings, name=account, ip=ip)
    if not name.strip():
        actor = ADMIN_TOKEN if shared_token_ok(shared_tokens, password.strip()) else None
    else:
        actor = verify_password(log, name, password)
    if actor is None:
        login_throttle.failed(log, settings, name=account, ip=ip)
        raise refuse_login()
    login_throttle.succeeded(log, settings, name=account)
    return actor
