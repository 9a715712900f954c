"""The company's calendar day and midnight, which agreements and warranties count in.

Time stamps in variables are ISO 8601 with an offset; a date ("the start date") means that
day in the company's time zone (``CRM_TIMEZONE``, default Asia/Shanghai like the office
calendar in processes/sla.toml), so a timer on it fires at local midnight.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=1)
def company_zone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("CRM_TIMEZONE", "Asia/Shanghai"))


def local_day(moment: datetime) -> date:
    """The company's calendar day at ``moment`` (aware, or naive UTC as SQLite returns it)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(company_zone()).date()


def midnight(day: date) -> datetime:
    """00:00 of ``day`` in the company's time zone."""
    return datetime.combine(day, time(0, 0), tzinfo=company_zone())


def end_of(day: date) -> datetime:
    """24:00 of ``day``: the first moment of the next day."""
    return midnight(day + timedelta(days=1))


def stamp(moment: datetime) -> str:
    """A time stamp for a case variable, in the company's zone so people read local time."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(company_zone()).isoformat(timespec="seconds")
