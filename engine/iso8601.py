"""ISO 8601 durations, date-times and repeating intervals, as BPMN timers and the SLA file write them.

Deliberately strict: a designer who writes ``pt4h``, ``P1H`` or ``2026-01-01 09:00`` gets an error
naming the character that is wrong instead of a timer that silently fires at another time.

Accepted forms:

* duration ``PnYnMnWnDTnHnMnS`` (any subset, in that order, only the last component may carry a
  decimal fraction, weeks may be combined with other components as ISO 8601-2 allows);
  ``parse_duration`` returns an exact ``timedelta`` and refuses years and months because they
  have no fixed length; ``parse_iso_duration`` keeps them as calendar units (``IsoDuration``);
* date-time ``YYYY-MM-DDThh:mm[:ss[.fraction]]`` followed by ``Z``, ``±hh:mm``, ``±hhmm`` or
  ``±hh``; an offset is required unless the caller supplies a default zone;
* repeating interval ``R[n]/<duration>``, ``R[n]/<start>/<duration>`` or ``R[n]/<start>/<end>``.
"""

from __future__ import annotations

import calendar as _gregorian
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple, TypeVar

_T = TypeVar("_T")
_US_PER_SECOND = 1_000_000
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_DATE_UNITS = "YMWD"
_TIME_UNITS = "HMS"
_UNIT_NAMES = {"Y": "years", "M": "months", "W": "weeks", "D": "days"}
_US_PER_TIME_UNIT = {"H": 3600 * _US_PER_SECOND, "M": 60 * _US_PER_SECOND, "S": _US_PER_SECOND}


class Iso8601Error(ValueError):
    """Text that is not the ISO 8601 form expected; ``position`` is the 0-based offending character."""

    def __init__(self, text: str, kind: str, reason: str, position: int | None = None) -> None:
        self.text = text
        self.kind = kind
        self.reason = reason
        self.position = position
        where = f" at character {position + 1}" if position is not None else ""
        super().__init__(f"{text!r} is not a valid ISO 8601 {kind}{where}: {reason}")


@dataclass(frozen=True)
class IsoDuration:
    """A duration as written: calendar units (years, months, nominal days) kept apart from exact time.

    Years and months have no fixed length, and a day is not always 24 hours across a DST change,
    so they are applied to a date-time on its wall clock (``add_to``) rather than converted.
    """

    years: int = 0
    months: int = 0
    weeks: Decimal = Decimal(0)
    days: Decimal = Decimal(0)
    time: timedelta = timedelta(0)
    text: str = field(default="", compare=False)

    @property
    def has_calendar_units(self) -> bool:
        """True when years or months are present, so there is no exact length."""
        return bool(self.years or self.months)

    def is_zero(self) -> bool:
        return not (self.years or self.months or self.weeks or self.days or self.time)

    def to_timedelta(self, day: timedelta = timedelta(days=1), week: timedelta | None = None) -> timedelta:
        """Exact length, counting a day as ``day`` and a week as ``week`` (default seven days).

        The SLA file passes a working day and a working week here, so ``P2D`` means two working days.
        """
        if self.has_calendar_units:
            raise Iso8601Error(
                self.text or str(self),
                "duration",
                "years and months have no fixed length; write days or weeks instead (P30D, not P1M)",
            )
        week = day * 7 if week is None else week
        us = Decimal(_micros(day)) * self.days + Decimal(_micros(week)) * self.weeks
        total = int(us.to_integral_value(ROUND_HALF_EVEN)) + _micros(self.time)
        try:
            return timedelta(microseconds=total)
        except OverflowError:
            raise Iso8601Error(self.text, "duration", "too long to represent") from None

    def times(self, factor: int) -> IsoDuration:
        """This duration repeated ``factor`` times (used to step a cycle without day-clamping drift)."""
        return IsoDuration(
            self.years * factor,
            self.months * factor,
            self.weeks * factor,
            self.days * factor,
            self.time * factor,
            self.text,
        )

    def add_to(self, moment: datetime) -> datetime:
        """``moment`` plus this duration: calendar units on ``moment``'s wall clock, time exactly.

        Adding a month to 31 January gives the last day of February, and ``P1D`` keeps 09:00 at
        09:00 across a DST change while ``PT24H`` does not, as ISO 8601 intends.
        """
        _require_aware(moment)
        zone = moment.tzinfo
        shifted = _add_months(moment, self.years * 12 + self.months)
        nominal_days = self.weeks * 7 + self.days
        if nominal_days:
            shifted = shifted + timedelta(days=float(nominal_days))
        # Normalise through UTC so a wall time that DST skipped becomes a real instant.
        exact = shifted.astimezone(UTC) + self.time
        return exact.astimezone(zone)

    def __str__(self) -> str:
        return self.text or _format(self)


class Cycle(NamedTuple):
    """A repeating interval: ``repetitions`` is None for ``R/...`` (repeat forever)."""

    repetitions: int | None
    start: datetime | None
    duration: IsoDuration

    def fire_times(self, anchor: datetime) -> Iterator[datetime]:
        """Every firing in order; without a start the first one is one period after ``anchor``.

        Each firing is computed from the origin, so monthly cycles from the 31st stay on month ends.
        """
        origin = self.start if self.start is not None else anchor
        first = 0 if self.start is not None else 1
        count = 0
        while self.repetitions is None or count < self.repetitions:
            yield self.duration.times(first + count).add_to(origin)
            count += 1

    def next_after(self, moment: datetime, anchor: datetime) -> datetime | None:
        """First firing strictly after ``moment``, or None when the repetitions are used up."""
        origin = self.start if self.start is not None else anchor
        first = 0 if self.start is not None else 1
        skip = 0
        if not self.duration.has_calendar_units and not self.duration.days and not self.duration.weeks:
            # Exact periods: jump straight to the right repetition instead of iterating.
            period = self.duration.time
            skip = max(0, (moment - origin) // period - first)
        index = first + skip
        while self.repetitions is None or index - first < self.repetitions:
            at = self.duration.times(index).add_to(origin)
            if at > moment:
                return at
            index += 1
        return None


def parse_iso_duration(text: str) -> IsoDuration:
    """Parse ``PnYnMnWnDTnHnMnS`` keeping years, months and days as calendar units."""
    parts = _scan_duration(text)
    for unit in ("Y", "M"):
        value = parts.get(unit)
        if value is not None and value != value.to_integral_value():
            raise Iso8601Error(text, "duration", f"{_UNIT_NAMES[unit]} cannot have a fraction")
    time_us = sum(
        (parts.get("T" + unit, Decimal(0)) * _US_PER_TIME_UNIT[unit] for unit in _TIME_UNITS), Decimal(0)
    )
    try:
        exact = timedelta(microseconds=int(time_us.to_integral_value(ROUND_HALF_EVEN)))
    except OverflowError:
        raise Iso8601Error(text, "duration", "too long to represent") from None
    return IsoDuration(
        years=int(parts.get("Y", 0)),
        months=int(parts.get("M", 0)),
        weeks=parts.get("W", Decimal(0)),
        days=parts.get("D", Decimal(0)),
        time=exact,
        text=text,
    )


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration of exact length (weeks, days as 24 hours, hours, minutes, seconds).

    Years and months are refused: use ``parse_iso_duration`` where calendar arithmetic is wanted.
    """
    parsed = parse_iso_duration(text)
    if parsed.has_calendar_units:
        raise Iso8601Error(
            text, "duration", "years and months have no fixed length here; write days instead (P30D)"
        )
    return parsed.to_timedelta()


def parse_datetime(text: str, default_zone: tzinfo | None = None) -> datetime:
    """Parse ``YYYY-MM-DDThh:mm[:ss[.f]]`` with an offset (or in ``default_zone``); result is aware."""
    return _DateTimeReader(text, "date-time").read(default_zone, whole=True)


def parse_cycle(text: str, default_zone: tzinfo | None = None) -> Cycle:
    """Parse ``R[n]/<duration>``, ``R[n]/<start>/<duration>`` or ``R[n]/<start>/<end>``."""
    kind = "repeating interval"
    if not text.startswith("R"):
        raise Iso8601Error(text, kind, "must start with 'R' (e.g. R3/PT10M or R/PT1H)", 0)
    slash = text.find("/")
    if slash < 0:
        raise Iso8601Error(text, kind, "expected '/' after the repetition count", len(text))
    count_text = text[1:slash]
    if count_text and not count_text.isdigit():
        raise Iso8601Error(text, kind, "repetition count must be digits or empty", 1)
    repetitions = int(count_text) if count_text else None
    if repetitions == 0:
        raise Iso8601Error(text, kind, "R0 would never fire", 1)
    pieces = text[slash + 1 :].split("/")
    offsets = [slash + 1]
    for piece in pieces[:-1]:
        offsets.append(offsets[-1] + len(piece) + 1)
    if len(pieces) > 2:
        raise Iso8601Error(text, kind, "too many '/' parts", offsets[2] - 1)
    if len(pieces) == 1:
        duration = _nested(text, kind, offsets[0], lambda: parse_iso_duration(pieces[0]))
        start = None
    elif pieces[0].startswith("P"):
        raise Iso8601Error(
            text, kind, "the <duration>/<end> form is not supported; give <start>/<duration>", offsets[0]
        )
    else:
        start = _nested(text, kind, offsets[0], lambda: parse_datetime(pieces[0], default_zone))
        if pieces[1].startswith("P"):
            duration = _nested(text, kind, offsets[1], lambda: parse_iso_duration(pieces[1]))
        else:
            end = _nested(text, kind, offsets[1], lambda: parse_datetime(pieces[1], default_zone))
            if end <= start:
                raise Iso8601Error(text, kind, "the end must be after the start", offsets[1])
            duration = IsoDuration(time=end - start, text=_format(IsoDuration(time=end - start)))
    if duration.is_zero():
        raise Iso8601Error(text, kind, "the period must be longer than zero", offsets[-1])
    return Cycle(repetitions, start, duration)


def _scan_duration(text: str) -> dict[str, Decimal]:
    """Components by designator (time ones prefixed with 'T'), with exact positions for errors."""
    _check_duration_prefix(text)
    parts: dict[str, Decimal] = {}
    in_time = False
    last_rank = -1
    fraction_at: int | None = None
    pos = 1
    while pos < len(text):
        if text[pos] == "T":
            if in_time:
                raise Iso8601Error(text, "duration", "'T' appears twice", pos)
            in_time, last_rank, pos = True, -1, pos + 1
            if pos == len(text):
                raise Iso8601Error(text, "duration", "'T' must be followed by hours, minutes or seconds", pos)
            continue
        number = _NUMBER.match(text, pos)
        if number is None:
            raise Iso8601Error(text, "duration", f"expected a number, found {text[pos]!r}", pos)
        if fraction_at is not None:
            raise Iso8601Error(text, "duration", "only the last component may have a fraction", fraction_at)
        pos = number.end()
        unit, last_rank = _designator(text, pos, in_time, last_rank)
        digits = number.group().replace(",", ".")
        if "." in digits:
            fraction_at = number.start()
        parts[("T" + unit) if in_time else unit] = Decimal(digits)
        pos += 1
    if not parts:
        raise Iso8601Error(text, "duration", "has no components (e.g. PT4H)", len(text))
    return parts


def _check_duration_prefix(text: str) -> None:
    if not text.startswith("P"):
        hint = " (designators are upper case: PT4H)" if text[:1] == "p" else " (e.g. PT4H or P2D)"
        raise Iso8601Error(text, "duration", "must start with 'P'" + hint, 0)
    if text[1:2].isdigit() and "-" in text:
        raise Iso8601Error(text, "duration", "the alternative format PYYYY-MM-DD is not supported", 1)


def _designator(text: str, pos: int, in_time: bool, last_rank: int) -> tuple[str, int]:
    """The unit letter at ``pos`` and its rank, refusing wrong, repeated or out-of-order units."""
    units = _TIME_UNITS if in_time else _DATE_UNITS
    if pos == len(text):
        raise Iso8601Error(text, "duration", f"number without a designator (one of {', '.join(units)})", pos)
    unit = text[pos]
    if unit not in units:
        raise Iso8601Error(text, "duration", _wrong_unit(unit, in_time), pos)
    rank = units.index(unit)
    if rank <= last_rank:
        raise Iso8601Error(text, "duration", f"'{unit}' is repeated or out of order (order: {units})", pos)
    return unit, rank


def _wrong_unit(unit: str, in_time: bool) -> str:
    if not in_time and unit in "HS":
        return f"'{unit}' belongs to the time part and needs a 'T' before it (e.g. PT4{unit})"
    if in_time and unit in "YWD":
        return f"'{unit}' belongs before the 'T' (e.g. P2{unit}T4H)"
    if unit.islower():
        return "designators are upper case (PT4H, not pt4h)"
    expected = "H, M or S" if in_time else "Y, M, W or D"
    return f"expected a designator ({expected}), found {unit!r}"


class _DateTimeReader:
    """Cursor over one date-time, so each failure names the exact character."""

    def __init__(self, text: str, kind: str) -> None:
        self.text = text
        self.kind = kind
        self.pos = 0

    def fail(self, reason: str, pos: int | None = None) -> Iso8601Error:
        return Iso8601Error(self.text, self.kind, reason, self.pos if pos is None else pos)

    def digits(self, count: int, what: str) -> int:
        chunk = self.text[self.pos : self.pos + count]
        if len(chunk) != count or not chunk.isdigit():
            raise self.fail(f"expected {count} digits for the {what}")
        self.pos += count
        return int(chunk)

    def literal(self, char: str, what: str) -> None:
        if self.text[self.pos : self.pos + 1] != char:
            raise self.fail(f"expected '{char}' {what}")
        self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def read(self, default_zone: tzinfo | None, whole: bool) -> datetime:
        year = self.digits(4, "year")
        self.literal("-", "after the year (extended format YYYY-MM-DD)")
        month = self.digits(2, "month")
        self.literal("-", "after the month")
        day = self.digits(2, "day")
        if self.peek() == " ":
            raise self.fail("date and time must be separated by 'T', not a space")
        if self.peek() == "":
            raise self.fail("a time of day is required (e.g. 2026-01-01T09:00:00Z)")
        self.literal("T", "between date and time")
        time_at = self.pos
        hour = self.digits(2, "hour")
        self.literal(":", "after the hour")
        minute = self.digits(2, "minute")
        second, micro = 0, 0
        if self.peek() == ":":
            self.pos += 1
            second = self.digits(2, "second")
            if self.peek() in (".", ","):
                self.pos += 1
                start = self.pos
                while self.peek().isdigit():
                    self.pos += 1
                fraction = self.text[start : self.pos]
                if not fraction or len(fraction) > 9:
                    raise self.fail("a fraction of a second needs 1 to 9 digits", start)
                micro = int(fraction[:6].ljust(6, "0"))
        zone = self.zone(default_zone)
        if whole and self.pos != len(self.text):
            raise self.fail(f"unexpected {self.text[self.pos :]!r} after the date-time")
        return self.build(year, month, day, (hour, minute, second, micro), zone, time_at)

    def zone(self, default_zone: tzinfo | None) -> tzinfo:
        sign = self.peek()
        if sign == "Z":
            self.pos += 1
            return UTC
        if sign in ("+", "-"):
            at = self.pos
            self.pos += 1
            hours = self.digits(2, "offset hours")
            minutes = 0
            if self.peek() == ":":
                self.pos += 1
                minutes = self.digits(2, "offset minutes")
            elif self.peek().isdigit():
                minutes = self.digits(2, "offset minutes")
            if hours > 23 or minutes > 59:
                raise self.fail("offset out of range", at)
            offset = timedelta(hours=hours, minutes=minutes)
            return timezone(-offset if sign == "-" else offset)
        if default_zone is None:
            if sign == "z":
                raise self.fail("the UTC designator is upper case 'Z'")
            raise self.fail("a time zone offset is required ('Z' or e.g. +08:00)")
        return default_zone

    def build(
        self, year: int, month: int, day: int, clock: tuple[int, int, int, int], zone: tzinfo, time_at: int
    ) -> datetime:
        hour, minute, second, micro = clock
        end_of_day = hour == 24 and minute == second == micro == 0
        try:
            moment = datetime(year, month, day, 0 if end_of_day else hour, minute, second, micro, zone)
        except ValueError as exc:
            where = time_at if "hour" in str(exc) or "minute" in str(exc) or "second" in str(exc) else 0
            raise self.fail(str(exc), where) from None
        # ISO 8601 allows 24:00 for the end of a day; it is the next day's midnight.
        return moment + timedelta(days=1) if end_of_day else moment


def _nested(text: str, kind: str, offset: int, parse: Callable[[], _T]) -> _T:
    """Run a part parser and report its error as a position in the whole text."""
    try:
        return parse()
    except Iso8601Error as exc:
        position = offset + exc.position if exc.position is not None else offset
        raise Iso8601Error(text, kind, f"{exc.kind}: {exc.reason}", position) from None


def _add_months(moment: datetime, months: int) -> datetime:
    if not months:
        return moment
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    last = _gregorian.monthrange(year, month + 1)[1]
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last))


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * _US_PER_SECOND + delta.microseconds


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime")


def _format(duration: IsoDuration) -> str:
    date_part = "".join(
        f"{value}{unit}"
        for value, unit in (
            (duration.years, "Y"),
            (duration.months, "M"),
            (duration.weeks, "W"),
            (duration.days, "D"),
        )
        if value
    )
    seconds = _micros(duration.time)
    hours, rest = divmod(seconds, 3600 * _US_PER_SECOND)
    minutes, rest = divmod(rest, 60 * _US_PER_SECOND)
    secs = Decimal(rest) / _US_PER_SECOND
    time_part = "".join(
        f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (secs.normalize(), "S")) if value
    )
    if not date_part and not time_part:
        return "PT0S"
    return "P" + date_part + ("T" + time_part if time_part else "")
