"""`create_app(settings)`: the FastAPI application. The lifespan builds the services once and keeps the index fresh.

Mounted: the HTTP API (`app.api.router.api_router`), the staff console (`app.console.routes.router`) and, when a
Slack bot token is set, the Slack bot (`app.slack.mount`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import __version__
from app.api.deps import VALIDATION_JA, bearer_actor
from app.api.http_errors import http_error
from app.api.router import api_router
from app.console.routes import router as console_router
from app.console.session import read_session
from app.errors import ConfigError, MadoguchiError, PayloadTooLargeError
from app.ops import adapt
from app.ops.accounts import check_admin_token
from app.ops.faq import repair_index_at_start
from app.ops.retention import retention_loop
from app.services import Services, build_services
from app.settings import Settings, get_settings
from app.slack.mount import mount_slack
from app.store import runfile

logger = logging.getLogger(__name__)


def _lang(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "ja"


def error_response(request: Request, exc: MadoguchiError) -> JSONResponse:
    """The one shape of an error: `{"error": code, "detail": in the asker's language, "detail_en": ...}`."""
    if exc.status_code >= 500:
        logger.error("%s: %s", exc.code, exc.detail_en)
    retry_after = getattr(exc, "retry_after", None)
    return JSONResponse(
        {"error": exc.code, "detail": exc.detail(_lang(request)), "detail_en": exc.detail_en},
        status_code=exc.status_code,
        headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
    )


# --- request bodies: bounded before they are read ---
# Upload routes take `max_upload_bytes`; admin and console forms up to FORM_BYTES; every other route (the public
# `/api/ask`, `/api/feedback`, `/slack/events`) `max_request_bytes`.
UPLOAD_PATHS = frozenset(
    {"/api/admin/ingest", "/api/admin/faq/import", "/console/documents/upload", "/console/faq/import"}
)
FORM_BYTES = 1024 * 1024
# Console paths open without a session: the login form, the language switch, static files.
CONSOLE_OPEN = ("/console/login", "/console/lang/", "/console/static/")


def body_limit(settings: Settings, path: str) -> int:
    if path in UPLOAD_PATHS:
        return settings.max_upload_bytes
    if path.startswith(("/api/admin", "/console")):
        return max(settings.max_request_bytes, FORM_BYTES)
    return settings.max_request_bytes


def has_credentials(request: Request) -> bool:
    """Whether a request to an admin or console route carries valid credentials (the route checks them again)."""
    path = request.url.path
    if path.startswith("/api/admin"):
        return bearer_actor(request, request.headers.get("authorization")) is not None
    if path.startswith("/console") and not path.startswith(CONSOLE_OPEN):
        return read_session(request) is not None
    return True


def _too_large(request: Request, limit: int) -> JSONResponse:
    size = f"{limit // 1024} KiB" if limit < 1024 * 1024 else f"{limit // (1024 * 1024)} MiB"
    exc = PayloadTooLargeError(
        f"The request body is too large: at most {size} here. Send a shorter question or a smaller file.",
        f"リクエストの本文が大きすぎます（この宛先では {size} まで）。質問を短くするか、小さいファイルにしてください。",
    )
    response = error_response(request, exc)
    response.headers["Connection"] = "close"  # the rest of the body is not read: this connection cannot be reused
    return response


def _closing(message: Message) -> Message:
    if message["type"] == "http.response.start":
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
        message = {**message, "headers": [*headers, (b"connection", b"close")]}
    return message


class BodyLimitMiddleware:
    """Refuses a request body over its route's limit with a 413 before reading it: at once when Content-Length says
    so, else as soon as the bytes received pass the limit while streaming. An admin or console request without
    credentials reaches its route with an empty body, so the route answers 401/404 (or the login redirect) without
    the server reading what was sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        # Checking credentials may read the database (personal tokens, console sessions): off the event loop.
        path = request.url.path
        guarded = path.startswith(("/api/admin", "/console")) and not path.startswith(CONSOLE_OPEN)
        if guarded and not await asyncio.to_thread(has_credentials, request):
            await self.app(scope, _empty_body(), lambda message: send(_closing(message)))
            return
        limit = body_limit(request.app.state.settings, request.url.path)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _too_large(request, limit)(scope, receive, send)
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _too_large(request, limit)(scope, receive, send)
                    return {"type": "http.disconnect"}  # the route stops reading; its own answer is dropped
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception as exc:
            if not refused:
                raise
            logger.info(
                "%s %s: body over %d bytes refused; the route stopped reading (%r)",
                scope["method"],
                request.url.path,
                limit,
                exc,
            )


def _empty_body() -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def _refresher(services: Services) -> None:
    interval = services.settings.refresh_interval_s
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(services.index.poll)


async def _adapter_trainer(services: Services) -> None:
    """Retrain the query adapter in the background when enough new pairs arrived (app/ops/adapt.py); answers never
    wait for it (a worker thread), and a failure is logged and retried at the next check."""
    interval = services.settings.adapt_check_minutes * 60
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(adapt.maybe_adapt, services, slot=str(int(time.time() // interval)))
        except Exception:  # noqa: BLE001 - the next check tries again; the served adapter stays
            logger.exception("background query adapter training failed")


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()
    check_admin_token(settings)  # a short shared admin token is refused at start-up (ConfigError)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder = None
        if not settings.chroma_url:
            holder = runfile.ServerRun.claim(settings)
            if holder is None:
                raise ConfigError(
                    f"Another Madoguchi process is writing {settings.data_dir}; stop it or use another MADOGUCHI_DATA_DIR.",
                    f"別の Madoguchi プロセスが {settings.data_dir} を使用中です。停止するか別の MADOGUCHI_DATA_DIR を指定してください。",
                )
            app.state.local_token = holder.token
        try:
            if services is not None:
                svc = services
            else:
                svc = await asyncio.to_thread(build_services, settings, load_index=False)
            app.state.services = svc
            await asyncio.to_thread(svc.index.poll)
            if svc.webhooks is not None:
                await asyncio.to_thread(svc.webhooks.resume)  # webhook events a stopped server left undelivered
            if svc.index.ready:
                svc.check_embedder()
                if not settings.chroma_url:  # an embedded store is ours alone: finish a write a crash cut short
                    await asyncio.to_thread(svc.repair_store)
                await asyncio.to_thread(repair_index_at_start, svc)
        except BaseException:
            if holder is not None:
                holder.release()  # a server that fails to start leaves the data dir free
            raise
        task = asyncio.create_task(_refresher(svc))
        trainer = (
            asyncio.create_task(_adapter_trainer(svc))
            if svc.settings.adapt_min_new_pairs > 0 and svc.query_log is not None
            else None
        )
        purger = asyncio.create_task(retention_loop(svc))  # MADOGUCHI_LOG_RETENTION_DAYS (a no-op when unset)
        slack = getattr(app.state, "slack_lifespan", None)
        try:
            if slack is not None:
                async with slack(app):
                    yield
            else:
                yield
        finally:
            for running in (task, trainer, purger):
                if running is not None:
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running
            if holder is not None:
                holder.release()
            if svc.webhooks is not None:
                await asyncio.to_thread(svc.webhooks.close)  # queued events stay in the outbox for the next start
            if svc.query_log is not None:
                svc.query_log.close()

    app = FastAPI(title="Madoguchi (窓口)", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.local_token = None

    @app.exception_handler(MadoguchiError)
    async def _madoguchi_error(request: Request, exc: MadoguchiError):
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        problems_en, problems_ja = [], []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems_en.append(f"{where}: {err.get('msg')}")
            problems_ja.append(f"{where}: {VALIDATION_JA.get(err.get('type', ''), err.get('msg'))}")
        detail_en = "Invalid request: " + "; ".join(problems_en)
        detail_ja = "リクエストが不正です: " + "; ".join(problems_ja)
        return JSONResponse(
            {
                "error": "validation_error",
                "detail": detail_en if _lang(request) == "en" else detail_ja,
                "detail_en": detail_en,
            },
            status_code=422,
        )

    app.add_exception_handler(StarletteHTTPException, http_error)  # a body FastAPI cannot parse, 404, 405
    app.add_middleware(BodyLimitMiddleware)
    app.include_router(api_router)
    app.include_router(console_router)
    # A bot token is enough: a replica without the events endpoint or Socket Mode still relays staff answers
    # given in its console to Slack askers (the Socket Mode worker may run elsewhere).
    if settings.slack_bot_token:
        mount_slack(app, settings)
    return app
