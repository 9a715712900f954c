"""Quartz cron expressions in timer cycles, as Camunda 7 accepts them (``0 0/5 * * * ?``).

Camunda reads a ``timeCycle`` that is not an ISO 8601 repeating interval as a Quartz cron
expression: six or seven fields, seconds first —
``second minute hour day-of-month month day-of-week [year]`` — with ``?`` for "no specific
value" in one of the two day fields, days of the week 1-7 counted from Sunday (or SUN-SAT),
``L`` for the last day of the month (``6L``: the last Friday) and ``#`` for the n-th weekday
of the month (``6#3``: the third Friday). ``W`` (the nearest weekday) is refused at deploy.

Firing times are computed by APScheduler's cron trigger (the library the engine's scheduler
already runs on) in UTC; the cycle never ends, like a cron job.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

_NAMES = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT"
_FIELD = rf"(?:[0-9*?/#LW,-]|{_NAMES})+"
# Six or seven fields of cron characters and month or day names: never a Python expression.
_SHAPE = re.compile(rf"^{_FIELD}(?:\s+{_FIELD}){{5,6}}$", re.IGNORECASE)
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # Quartz numbers them 1-7
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}


class CronError(ValueError):
    """Text shaped like a cron expression that Quartz (or this engine) would not accept."""


def is_cron(text: str) -> bool:
    """Whether ``text`` has the shape of a Quartz cron expression (six or seven fields)."""
    return bool(_SHAPE.match(text.strip()))


def _weekday(token: str, text: str) -> str:
    if token.isdigit():
        number = int(token)
        if not 1 <= number <= 7:
            raise CronError(f"{text!r}: days of the week are 1 (Sunday) to 7 (Saturday), not {number}")
        return _WEEKDAYS[number - 1]
    if token.lower()[:3] not in _WEEKDAYS or len(token) != 3:
        raise CronError(f"{text!r}: {token!r} is not a day of the week (SUN-SAT or 1-7)")
    return token.lower()


def _day_of_week(field: str, text: str) -> tuple[str, str | None]:
    """APScheduler's day_of_week, and what goes in its day field instead (``6L``, ``6#3``)."""
    if field in ("?", "*"):
        return "*", None
    if field.endswith("L") and len(field) > 1:
        return "*", f"last {_weekday(field[:-1], text)}"
    if "#" in field:
        day, _, nth = field.partition("#")
        if not nth.isdigit() or int(nth) not in _ORDINALS:
            raise CronError(f"{text!r}: {field!r} needs a week of the month from 1 to 5 after '#'")
        return "*", f"{_ORDINALS[int(nth)]} {_weekday(day, text)}"
    if "/" in field:
        raise CronError(f"{text!r}: steps in the day-of-week field ({field!r}) are not supported")
    parts = []
    for item in field.split(","):
        low, dash, high = item.partition("-")
        parts.append(_weekday(low, text) + (f"-{_weekday(high, text)}" if dash else ""))
    return ",".join(parts), None


def _day_of_month(field: str, text: str) -> str:
    if field == "?":
        return "*"
    if "W" in field.upper() or field.upper().startswith("L-"):
        raise CronError(f"{text!r}: {field!r} (nearest weekday, offsets from the last day) is not supported")
    return "last" if field.upper() == "L" else field.lower()


def trigger(text: str) -> CronTrigger:
    """APScheduler's trigger for the Quartz expression ``text``; CronError if it is not one."""
    fields = text.split()
    if not is_cron(text):
        raise CronError(f"{text!r} is not a cron expression of six or seven fields (seconds first)")
    day_field, weekday_field = fields[3], fields[5]
    if day_field != "?" and weekday_field != "?" and "*" not in (day_field, weekday_field):
        raise CronError(
            f"{text!r}: give either a day of the month or a day of the week; put '?' in the other"
        )
    day_of_week, weekday_day = _day_of_week(weekday_field, text)
    day = _day_of_month(day_field, text)
    if weekday_day is not None:
        day = weekday_day
    values = {
        "second": fields[0], "minute": fields[1], "hour": fields[2], "day": day,
        "month": fields[4].lower(), "day_of_week": day_of_week,
    }  # fmt: skip
    if len(fields) == 7:
        values["year"] = fields[6]
    try:
        return CronTrigger(timezone=UTC, **values)
    except ValueError as exc:
        raise CronError(f"{text!r}: {exc}") from exc


def next_firing(text: str, after: datetime) -> datetime | None:
    """The first moment strictly after ``after`` that the cron expression ``text`` names (UTC)."""
    # Cron moments are whole seconds; APScheduler answers the first one at or after its "now".
    earliest = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    following = trigger(text).get_next_fire_time(None, earliest)
    return following.astimezone(UTC) if following is not None else None
