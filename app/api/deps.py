"""Dependencies as `Annotated` aliases reading `app.state`, the admin check, and the one way a download becomes a
response (shared by the API and the console)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError

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


class JsonBody(BaseModel):
    """Base of the JSON request bodies. No string may hold a lone UTF-16 surrogate (JSON's `"\\ud800"`): no UTF-8
    store, tokenizer or embedder can take one, so it is refused here as a 422 (`lone_surrogate`)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_lone_surrogates(cls, value: object) -> object:
        if isinstance(value, str) and has_lone_surrogate(value):
            raise PydanticCustomError(
                "lone_surrogate", "contains an invalid character (a lone UTF-16 surrogate such as \\ud800)"
            )
        return value


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# Japanese for the validation errors of our own types (app/main.py's handler; pydantic's own stay in English).
VALIDATION_JA = {"lone_surrogate": "使えない文字（対になっていない UTF-16 サロゲート、例: \\ud800）が含まれています"}


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
