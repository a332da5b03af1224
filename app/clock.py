"""Time helpers shared by the stores and the staff-facing services: now in UTC, stored times as aware UTC, and the
configured time zone of dates and day/week buckets (`MADOGUCHI_TIMEZONE`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, overload
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from app.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def zone(settings: Settings) -> ZoneInfo:
    """The staff's time zone: date filters, stats buckets, times shown in the console and the CSV."""
    return ZoneInfo(settings.timezone)
