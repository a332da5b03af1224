"""Errors raised by FastAPI/Starlette themselves (a body that cannot be parsed, an unknown route, a wrong method)
in our one shape: `{"error": code, "detail": in the asker's language, "detail_en": ...}`, never a bare
`{"detail": "..."}` in English only. Redirects raised as exceptions (the console's login redirect) pass through."""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

_KNOWN: dict[int, tuple[str, str, str]] = {
    400: (
        "bad_body",
        "The request body could not be read: send valid JSON (UTF-8, not nested too deeply) or a valid form.",
        "リクエストの本文を読み取れません。正しい JSON（UTF-8、入れ子は浅く）またはフォームを送ってください。",
    ),
    404: ("not_found", "There is no such page or API route.", "そのページまたは API はありません。"),
    405: (
        "method_not_allowed",
        "This route does not take that HTTP method.",
        "この宛先はその HTTP メソッドを受け付けません。",
    ),
}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # registered for this class only
    if exc.status_code < 400:
        return await http_exception_handler(request, exc)
    code, en, ja = _KNOWN.get(
        exc.status_code,
        (
            "http_error",
            f"The request was refused: {exc.detail}",
            f"リクエストを処理できません（HTTP {exc.status_code}）。",
        ),
    )
    lang = "en" if request.headers.get("accept-language", "").lower().startswith("en") else "ja"
    return JSONResponse(
        {"error": code, "detail": en if lang == "en" else ja, "detail_en": en},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )
