"""The fakes at the network edge must be able to fail a test: checked here, fast, without the app."""

from __future__ import annotations

import threading
import time

import httpx

from tests.support.slack_api import FakeSlack


def test_quiet_waits_its_full_time_even_when_nothing_was_called_yet():
    """`quiet()` backs every "nothing more was posted" assertion. With no call recorded yet it must still wait, or a
    post that comes late (a busy machine, a slow answer) would arrive after the assertion had already passed."""
    with FakeSlack() as fake:
        late = threading.Timer(
            0.3, lambda: httpx.post(fake.api_url + "chat.postMessage", json={"channel": "C1", "text": "late"})
        )
        late.start()
        started = time.monotonic()
        fake.quiet(1.0)
        late.join()
        assert time.monotonic() - started >= 1.0
        assert [c.args["text"] for c in fake.calls_to("chat.postMessage")] == ["late"]


def test_quiet_returns_after_the_last_call_has_been_quiet_long_enough():
    with FakeSlack() as fake:
        httpx.post(fake.api_url + "chat.postMessage", json={"channel": "C1", "text": "first"})
        started = time.monotonic()
        fake.quiet(0.3)
        assert 0.2 <= time.monotonic() - started < 2.0
