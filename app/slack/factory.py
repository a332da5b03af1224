"""Build the Slack Web API client and the Bolt app from settings."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from app.errors import ConfigError
from app.services import Services
from app.settings import Settings
from app.slack import handlers
from app.slack.bot import SlackBot

logger = logging.getLogger(__name__)


def make_web_client(settings: Settings) -> WebClient:
    """A WebClient on `MADOGUCHI_SLACK_API_URL` that waits out HTTP 429 (`Retry-After`) and retries."""
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return WebClient(
        token=settings.slack_bot_token,
        base_url=base_url,
        timeout=30,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3)],
    )


def make_bolt_app(settings: Settings, bot: SlackBot) -> App:
    """The Bolt app with Madoguchi's listeners. The token is checked lazily (first event), not at start-up."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is not set.", "SLACK_BOT_TOKEN が設定されていません。")
    app = App(
        client=bot.client,
        signing_secret=settings.slack_signing_secret or "",
        token_verification_enabled=False,
        process_before_response=False,
        name="madoguchi",
        logger=logging.getLogger("app.slack.bolt"),
        listener_executor=bot.executor,
    )
    handlers.register(app, bot)
    return app


def make_slack(settings: Settings, *, get_services: Callable[[], Services | None]) -> tuple[SlackBot, App]:
    bot = SlackBot(settings=settings, client=make_web_client(settings), get_services=get_services)
    return bot, make_bolt_app(settings, bot)
