"""Login throttling per account and per client address: after `MADOGUCHI_LOGIN_MAX_FAILURES` failures of one
account (or `MADOGUCHI_LOGIN_MAX_FAILURES_PER_IP` from one address) within `MADOGUCHI_LOGIN_WINDOW_S`, further
attempts are refused with 429 and the wait time until the oldest failure leaves the window. Failures are rows in
the database, so every replica counts the same ones; a successful login clears its account's failures."""

from __future__ import annotations

import math
from datetime import timedelta

from app.clock import utcnow
from app.errors import RateLimitedError
from app.ports import QueryLogPort
from app.settings import Settings


def keys(name: str, ip: str | None) -> tuple[str, str | None]:
    return f"account:{name.strip().lower()}", (f"ip:{ip}" if ip else None)


def check(log: QueryLogPort, settings: Settings, *, name: str, ip: str | None) -> None:
    """Raise `RateLimitedError` (429, with the seconds to wait) when the account or the address is over its limit."""
    now = utcnow()
    window = timedelta(seconds=settings.login_window_s)
    account_key, ip_key = keys(name, ip)
    waits = []
    for key, limit in ((account_key, settings.login_max_failures), (ip_key, settings.login_max_failures_per_ip)):
        if key is None:
            continue
        times = log.accounts.failures_since(key, now - window)
        if len(times) >= limit:
            # Let the next attempt through once enough failures have left the window.
            waits.append((times[len(times) - limit] + window - now).total_seconds())
    if waits:
        seconds = max(1, math.ceil(max(waits)))
        minutes = max(1, math.ceil(seconds / 60))
        raise RateLimitedError(
            f"Too many failed logins. Please wait about {minutes} minute(s) ({seconds} s) and try again.",
            f"ログインの失敗が続いたため、しばらくログインできません。約 {minutes} 分（{seconds} 秒）後にもう一度お試しください。",
            retry_after=seconds,
        )


def failed(log: QueryLogPort, settings: Settings, *, name: str, ip: str | None) -> None:
    account_key, ip_key = keys(name, ip)
    log.accounts.add_failure(
        [k for k in (account_key, ip_key) if k], forget_before=utcnow() - timedelta(seconds=settings.login_window_s)
    )


def succeeded(log: QueryLogPort, settings: Settings, *, name: str) -> None:
    """Clear the account's failures (and forget failures older than the window, everyone's)."""
    account_key, _ = keys(name, None)
    log.accounts.clear_failures(account_key, older_than=utcnow() - timedelta(seconds=settings.login_window_s))
