"""`mount_slack(app, settings)`: the Slack bot inside the FastAPI app.

- HTTP Events API (SLACK_SIGNING_SECRET set): `POST /slack/events` takes events, interactivity (buttons) and
  slash commands; the signature and the timestamp (older than 5 minutes → 401) are verified on the raw bytes before
  anything parses the body (Bolt checks them again).
- Socket Mode (SLACK_APP_TOKEN set): connected in the app's lifespan, same listeners.
- The lifespan also registers the bot in `services.resolution_hooks`, so staff answers given in the web
  console reach the Slack asker, and in `services.escalation_hooks`, so questions escalated in other channels (the
  HTTP API) are posted to the staff channel too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier

from app.errors import AuthError, BadRequestError
from app.services import Services
from app.settings import Settings
from app.slack.factory import make_slack
from app.slack.socket_mode import SocketModeRunner

logger = logging.getLogger(__name__)


def _signed(verifier: SignatureVerifier, body: bytes, headers: dict[str, str]) -> bool:
    """Slack's signature over the raw body, with a fresh timestamp. Slack sends UTF-8 only: other bytes are unsigned
    (the verifier would fail decoding them)."""
    try:
        return verifier.is_valid_request(body.decode("utf-8"), headers)
    except UnicodeDecodeError:
        return False


def mount_slack(app: FastAPI, settings: Settings) -> None:
    def get_services() -> Services | None:
        return getattr(app.state, "services", None)  # None until the lifespan has built them

    bot, bolt_app = make_slack(settings, get_services=get_services)
    app.state.slack_bot = bot
    app.state.slack_bolt = bolt_app

    if settings.slack_signing_secret:
        verifier = SignatureVerifier(settings.slack_signing_secret)

        @app.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            body = await request.body()  # bounded by MADOGUCHI_MAX_REQUEST_BYTES (app/main.py)
            # The signature and its timestamp first, over the raw bytes: an unsigned or forged body is never parsed.
            if not _signed(verifier, body, dict(request.headers)):
                raise AuthError(
                    "Missing or invalid Slack signature (or a timestamp older than 5 minutes).",
                    "Slack の署名がないか正しくありません（または 5 分より古いタイムスタンプです）。",
                    code="bad_slack_signature",
                )
            try:
                bolt_request = to_bolt_request(request, body)
            except (ValueError, TypeError, AttributeError, KeyError) as exc:  # signed, but not what Slack sends
                logger.warning("Slack sent a body that cannot be parsed: %s", exc)
                raise BadRequestError(
                    "The Slack request body cannot be parsed.",
                    "Slack からのリクエスト本文を解釈できません。",
                    code="bad_slack_body",
                ) from None
            # Bolt's dispatch is synchronous (signature check again, then ack); keep it off the event loop.
            bolt_response = await asyncio.to_thread(bolt_app.dispatch, bolt_request)
            return to_starlette_response(bolt_response)

    @asynccontextmanager
    async def slack_lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = get_services()
        hooks = services.resolution_hooks if services is not None else None
        if hooks is not None:
            hooks.append(bot.resolution_hook)
        escalations = services.escalation_hooks if services is not None else None
        if escalations is not None:
            escalations.append(bot.escalation_hook)  # questions from other channels reach the staff channel too
        runner = None
        if settings.slack_app_token:
            runner = SocketModeRunner(bolt_app, app_token=settings.slack_app_token)
            await asyncio.to_thread(runner.start)
        try:
            yield
        finally:
            if runner is not None:
                await asyncio.to_thread(runner.stop)
            await asyncio.to_thread(bot.shutdown)
            if hooks is not None and bot.resolution_hook in hooks:
                hooks.remove(bot.resolution_hook)
            if escalations is not None and bot.escalation_hook in escalations:
                escalations.remove(bot.escalation_hook)

    app.state.slack_lifespan = slack_lifespan
    mode = " + ".join(
        m
        for m, on in (("HTTP /slack/events", settings.slack_signing_secret), ("Socket Mode", settings.slack_app_token))
        if on
    )
    logger.info("Slack bot mounted (%s)", mode)
