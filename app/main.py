"""`create_app(settings)`: the FastAPI application. The lifespan builds the services once and keeps the index fresh.

Mounted: the HTTP API (`app.api.router.api_router`), the staff console (`app.console.routes.router`) and, when a
Slack bot token is set, the Slack bot (`app.slack.mount`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app import __version__
from app.api.deps import VALIDATION_JA
from app.api.router import api_router
from app.console.routes import router as console_router
from app.errors import ConfigError, MadoguchiError
from app.ops.faq import repair_index_at_start
from app.services import Services, build_services
from app.settings import Settings, get_settings
from app.slack.mount import mount_slack
from app.store import runfile

logger = logging.getLogger(__name__)


def _lang(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "ja"


async def _refresher(services: Services) -> None:
    interval = services.settings.refresh_interval_s
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(services.index.poll)


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()

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
            if svc.index.ready:
                svc.check_embedder()
                await asyncio.to_thread(repair_index_at_start, svc)
        except BaseException:
            if holder is not None:
                holder.release()  # a server that fails to start leaves the data dir free
            raise
        task = asyncio.create_task(_refresher(svc))
        slack = getattr(app.state, "slack_lifespan", None)
        try:
            if slack is not None:
                async with slack(app):
                    yield
            else:
                yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if holder is not None:
                holder.release()
            if svc.query_log is not None:
                svc.query_log.close()

    app = FastAPI(title="Madoguchi (窓口)", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.local_token = None

    @app.exception_handler(MadoguchiError)
    async def _madoguchi_error(request: Request, exc: MadoguchiError):
        if exc.status_code >= 500:
            logger.error("%s: %s", exc.code, exc.detail_en)
        return JSONResponse(
            {"error": exc.code, "detail": exc.detail(_lang(request)), "detail_en": exc.detail_en},
            status_code=exc.status_code,
        )

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

    app.include_router(api_router)
    app.include_router(console_router)
    # A bot token is enough: a replica without the events endpoint or Socket Mode still relays staff answers
    # given in its console to Slack askers (the Socket Mode worker may run elsewhere).
    if settings.slack_bot_token:
        mount_slack(app, settings)
    return app
