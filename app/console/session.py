"""Console login: a server-side session (a row in the database, app/ops/accounts.py) named by a random secret in an
HttpOnly, SameSite=Strict cookie, and a CSRF token derived from that secret. Logging out, changing a password or
disabling an account deletes the rows, so the cookie stops working at once on every replica. The login form itself
is protected by a double-submit cookie."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response

from app.ops import accounts
from app.ops.accounts import Actor

SESSION_COOKIE = "madoguchi_console"
LOGIN_CSRF_COOKIE = "madoguchi_login_csrf"
LANG_COOKIE = "madoguchi_lang"
COOKIE_PATH = "/console"


@dataclass
class ConsoleSession:
    sid: str  # the cookie's secret
    csrf: str
    actor: Actor

    @property
    def is_admin(self) -> bool:
        return self.actor.is_admin


def _log(request: Request):
    services = getattr(request.app.state, "services", None)
    return services.query_log if services is not None else None


def console_enabled(request: Request) -> bool:
    """The console needs the database (accounts and sessions live there)."""
    return _log(request) is not None


def session_seconds(request: Request) -> int:
    return int(request.app.state.settings.session_hours * 3600)


def new_session_cookie(request: Request, actor: Actor) -> str:
    log = _log(request)
    assert log is not None
    return accounts.open_session(log, request.app.state.settings, actor)


def read_session(request: Request) -> ConsoleSession | None:
    log = _log(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if log is None or not raw or len(raw) > 200:
        return None
    actor = accounts.session_actor(log, request.app.state.settings, raw)
    if actor is None:
        return None
    return ConsoleSession(sid=raw, csrf=accounts.csrf_for(raw), actor=actor)


def end_session(request: Request, session: ConsoleSession) -> None:
    log = _log(request)
    if log is not None:
        accounts.close_session(log, session.sid)


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    http_only: bool = True,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=http_only,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def safe_next(value: str | None) -> str:
    """Only local console paths (no open redirect)."""
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


def require_session(request: Request) -> ConsoleSession:
    """Dependency: the logged-in session, or a redirect to the login page."""
    session = read_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(status_code=303, headers={"Location": f"/console/login?next={quote(target, safe='')}"})
    return session


def csrf_ok(session: ConsoleSession, form_value: object) -> bool:
    return isinstance(form_value, str) and bool(form_value) and hmac.compare_digest(form_value, session.csrf)


SessionDep = Annotated[ConsoleSession, Depends(require_session)]
