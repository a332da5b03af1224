"""Dependencies as `Annotated` aliases reading `app.state`, the admin check, and the one way a download becomes a
response (shared by the API and the console)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError

from app.errors import AuthError, ForbiddenError, NotFoundError
from app.ops.accounts import ADMIN_TOKEN, Actor, actor_for_token, shared_token_ok
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
    """Whether `token` is the shared admin token (or this server's local CLI token)."""
    return bool(token) and shared_token_ok(admin_tokens(request), token or "")


def bearer_actor(request: Request, authorization: str | None) -> Actor | None:
    """Who a bearer token acts as: "admin-token" for the shared token, else the account of a personal token."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if token_ok(request, token):
        return ADMIN_TOKEN
    services = getattr(request.app.state, "services", None)
    return actor_for_token(services.query_log if services is not None else None, token)


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    """Dependency of every admin route: the acting account (a personal token's, or "admin-token")."""
    actor = bearer_actor(request, authorization)
    if actor is not None:
        return actor
    # Unset MADOGUCHI_ADMIN_TOKEN: off for everyone but personal tokens and this server's own CLI (server.json).
    if not request.app.state.settings.admin_token:
        raise NotFoundError(
            "Admin routes are off: set MADOGUCHI_ADMIN_TOKEN to enable them, or use a personal token "
            "(`madoguchi users token NAME`).",
            "管理用 API は無効です。MADOGUCHI_ADMIN_TOKEN を設定するか、個人用トークン（`madoguchi users token 名前`）を使ってください。",
            code="admin_disabled",
        )
    raise AuthError(
        "Missing or wrong token: send `Authorization: Bearer <token>` with your personal token "
        "(`madoguchi users token NAME`) or MADOGUCHI_ADMIN_TOKEN.",
        "トークンがないか正しくありません。`Authorization: Bearer <トークン>` に個人用トークン"
        "（`madoguchi users token 名前`）か管理トークン（MADOGUCHI_ADMIN_TOKEN）を付けてください。",
    )


def require_admin_role(actor: Annotated[Actor, Depends(require_admin)]) -> Actor:
    """Dependency of the admin-only routes (documents): a staff account's token gets 403."""
    if not actor.is_admin:
        raise ForbiddenError(
            f"The account {actor.name!r} is a staff account; this route needs an admin account.",
            f"アカウント {actor.name!r} はスタッフ権限です。この操作には管理者権限が必要です。",
        )
    return actor


AdminDep = Annotated[Actor, Depends(require_admin)]  # any account (staff or admin) or the shared token
AdminOnlyDep = Annotated[Actor, Depends(require_admin_role)]  # admin accounts and the shared token


def download_response(export: Export) -> Response:
    """An attachment response for an `Export` (streamed when its content is produced while sending)."""
    headers = {"Content-Disposition": f'attachment; filename="{export.filename}"'}
    if isinstance(export.content, bytes):
        return Response(export.content, media_type=export.media_type, headers=headers)
    return StreamingResponse(export.content, media_type=export.media_type, headers=headers)
