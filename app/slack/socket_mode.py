"""Socket Mode (SLACK_APP_TOKEN): the same Bolt app over a WebSocket, for companies without a public endpoint.

The connection is opened by `apps.connections.open` on the configured Web API URL; Bolt's built-in client
reconnects on its own once connected. If Slack cannot be reached at start-up, a background thread keeps
trying (every `retry_s` seconds) while the HTTP API keeps serving.
"""

from __future__ import annotations

import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

logger = logging.getLogger(__name__)


class SocketModeRunner:
    def __init__(self, bolt_app: App, *, app_token: str, retry_s: float = 30.0) -> None:
        self.handler = SocketModeHandler(app=bolt_app, app_token=app_token, web_client=bolt_app.client)
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect now if possible; otherwise keep trying in the background."""
        if self._connect():
            return
        self._thread = threading.Thread(target=self._retry, name="slack-socket-mode-connect", daemon=True)
        self._thread.start()

    def _connect(self) -> bool:
        try:
            self.handler.connect()
            logger.info("Slack Socket Mode connected")
            return True
        except Exception:  # noqa: BLE001
            logger.exception("Slack Socket Mode could not connect; retrying in %.0f s", self.retry_s)
            return False

    def _retry(self) -> None:
        while not self._stop.wait(self.retry_s):
            if self._connect():
                return

    def stop(self) -> None:
        self._stop.set()
        try:
            self.handler.close()
        except Exception:  # noqa: BLE001
            logger.warning("closing the Socket Mode connection failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(5)
