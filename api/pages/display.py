"""How values look on the pages: local times, durations, time left, priorities, data.

The engine stores and answers in UTC; people read the time of their office, configured as
``TIMEZONE`` (``CRM_TIMEZONE``; by default the time zone of the shipped office calendar).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app

# The shipped SLA calendar's office (processes/sla.toml, calendars.china_office).
DEFAULT_TIMEZONE = "Asia/Shanghai"
_UNITS = (("d", 86400), ("h", 3600), ("min", 60))
# Task priorities as Camunda numbers them (0-100, 50 when a diagram names none).
_PRIORITY_NAMES = ((90, "Critical"), (70, "High"), (40, "Normal"), (0, "Low"))


def zone() -> ZoneInfo:
    name = current_app.config.get("TIMEZONE") or DEFAULT_TIMEZONE
    return ZoneInfo(str(name))


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def local_time(value: Any, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO 8601 time (as the engine's queries give it) in the office's time zone."""
    moment = _moment(value)
    return moment.astimezone(zone()).strftime(pattern) if moment is not None else ""


def duration(seconds: int | float | None) -> str:
    """``9000`` → ``2 h 30 min``: the two largest units people count in."""
    if seconds is None:
        return ""
    left = int(abs(seconds))
    parts: list[str] = []
    for unit, size in _UNITS:
        if left >= size:
            parts.append(f"{left // size} {unit}")
            left %= size
    if not parts:
        return "under a minute"
    return " ".join(parts[:2])


def time_left(seconds: int | float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0:
        return f"overdue by {duration(seconds)}"
    return f"{duration(seconds)} left"


def priority_name(priority: int | None) -> str:
    number = 50 if priority is None else priority
    return next(name for floor, name in _PRIORITY_NAMES if number >= floor)


def event_label(event_type: str) -> str:
    """``task_completed`` → ``Task completed``."""
    return event_type.replace("_", " ").capitalize()


def show_value(value: Any) -> str:
    """A variable as a person reads it: text as is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False, default=str)


def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def init_display(app: Flask) -> None:
    app.config.setdefault("TIMEZONE", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(str(app.config["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"TIMEZONE {app.config['TIMEZONE']!r} is not a known time zone") from exc
    app.jinja_env.filters.update(
        local_time=local_time,
        duration=duration,
        time_left=time_left,
        priority_name=priority_name,
        event_label=event_label,
        show_value=show_value,
        pretty_json=pretty_json,
    )
