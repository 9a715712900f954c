"""Time, in one place, so tests and the scheduler can control it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


def as_utc(moment: datetime) -> datetime:
    """Database drivers give naive datetimes for UTC columns (SQLite); make them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class OutOfRange(ValueError):
    """A date-time that is valid where it was written but outside the years 1 to 9999 in UTC."""


def parse_utc(text: str) -> datetime:
    """An ISO 8601 date-time (as Python reads it: offsets +02:00 and +0200) as aware UTC; one
    without an offset is taken as UTC.

    ValueError when the text is no date-time; OutOfRange (a ValueError) when its UTC time falls
    before the year 1 or after 9999 (0001-01-01T00:00+01:00 does), which datetime cannot hold.
    """
    moment = datetime.fromisoformat(text.strip())
    try:
        return as_utc(moment)
    except OverflowError:
        raise OutOfRange(f"{text.strip()[:40]!r} is outside the years 1 to 9999 in UTC") from None
