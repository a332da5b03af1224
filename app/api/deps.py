"""Dependencies as `Annotated` aliases reading `app.state`, the admin check, and the one way a download becomes a
response (shared by the API and the console)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response, StreamingResponse

from app.errors import AuthError, NotFoundError
from app.ops.downloads import Export
from app.services import Services
from app.settings import Settings


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def admin_tokens(request: Request) -> list[str]:
    """The admin token, plus the local token a server writes for the CLI on the same machine."""
    tokens = []
    if request.app.state.settings.admin_token:
        tokens.append(request.app.state.settings.admin_token)
    local = getattr(request.app.state, "local_token", None)
    if local:
        tokens.append(local)
    return tokens


def token_ok(request: Request, token: str | None) -> bool:
    if not token:
        return False
    return any(hmac.compare_digest(token, t) for t in admin_tokens(request))


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    ok = scheme.lower() == "bearer" and token_ok(request, token.strip())
    # Unset MADOGUCHI_ADMIN_TOKEN: off for everyone but this server's own CLI (its local token in server.json).
    if not request.app.state.settings.admin_token and not ok:
        raise NotFoundError(
            "Admin routes are off: set MADOGUCHI_ADMIN_TOKEN to enable them.",
            "管理用 API は無効です。MADOGUCHI_ADMIN_TOKEN を設定すると有効になります。",
            code="admin_disabled",
        )
    if not ok:
        raise AuthError(
            "Missing or wrong admin token: send `Authorization: Bearer <MADOGUCHI_ADMIN_TOKEN>`.",
            "管理トークンがないか正しくありません。`Authorization: Bearer <MADOGUCHI_ADMIN_TOKEN>` を付けてください。",
        )


AdminDep = Annotated[None, Depends(require_admin)]


def download_response(export: Export) -> Response:
    """An attachment response for an `Export` (streamed when its content is produced while sending)."""
    headers = {"Content-Disposition": f'attachment; filename="{export.filename}"'}
    if isinstance(export.content, bytes):
        return Response(export.content, media_type=export.media_type, headers=headers)
    return StreamingResponse(export.content, media_type=export.media_type, headers=headers)
