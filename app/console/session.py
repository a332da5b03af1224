"""Console login: a signed session cookie (HttpOnly, SameSite=Strict) and a CSRF token bound to it.

The signing key is derived from the admin token, so changing MADOGUCHI_ADMIN_TOKEN logs everyone out and every
replica sharing the token accepts the same cookie. The login form itself is protected by a double-submit cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response

SESSION_COOKIE = "madoguchi_console"
LOGIN_CSRF_COOKIE = "madoguchi_login_csrf"
LANG_COOKIE = "madoguchi_lang"
SESSION_SECONDS = 12 * 3600
COOKIE_PATH = "/console"


@dataclass
class ConsoleSession:
    sid: str
    expires: float
    csrf: str


def _key(request: Request) -> bytes | None:
    token = request.app.state.settings.admin_token
    if not token:
        return None
    return hashlib.sha256(b"madoguchi-console-session\0" + token.encode("utf-8")).digest()


def _sign(key: bytes, data: str) -> str:
    return hmac.new(key, data.encode("ascii"), hashlib.sha256).hexdigest()


def _csrf_for(key: bytes, sid: str) -> str:
    return _sign(key, "csrf:" + sid)[:40]


def console_enabled(request: Request) -> bool:
    return _key(request) is not None


def new_session_cookie(request: Request) -> str:
    key = _key(request)
    assert key is not None
    body = json.dumps({"sid": secrets.token_hex(16), "exp": time.time() + SESSION_SECONDS}).encode()
    payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
    return f"{payload}.{_sign(key, payload)}"


def read_session(request: Request) -> ConsoleSession | None:
    key = _key(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if key is None or not raw or "." not in raw:
        return None
    payload, _, sig = raw.rpartition(".")
    if not hmac.compare_digest(sig, _sign(key, payload)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        sid, exp = str(data["sid"]), float(data["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if exp < time.time():
        return None
    return ConsoleSession(sid=sid, expires=exp, csrf=_csrf_for(key, sid))


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None = SESSION_SECONDS,
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
