"""Working-time arithmetic: how much business time lies between two instants, and where N of it ends.

Working hours are local wall-clock times in the calendar's zone; the time counted is real elapsed
time, so a shift that spans a DST change is an hour shorter or longer, as the people in it live it.

Speed matters because deadlines are recomputed on every pause and resume: ordinary days (no holiday,
no make-up day, no DST change) are counted from precomputed per-weekday totals and whole weeks are
skipped with one multiplication; only the few special days are converted to UTC one by one.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MINUTES = 24 * 60
_US_PER_MINUTE = 60_000_000
_ONE_DAY = timedelta(days=1)
_Span = tuple[datetime, datetime]


class WorkInterval(NamedTuple):
    """One stretch of working hours, as minutes after local midnight (``end`` may be 24:00)."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> WorkInterval:
        """``"09:00-12:00"``; ``24:00`` is allowed as an end so a night shift can run to midnight."""
        parts = text.replace(" ", "").split("-")
        if len(parts) != 2:
            raise ValueError(f"working hours {text!r} must look like 09:00-18:00")
        start, end = (_minutes(part, text) for part in parts)
        interval = cls(start, end)
        interval.check()
        return interval

    def check(self) -> None:
        if not 0 <= self.start < self.end <= _DAY_MINUTES:
            raise ValueError(f"working hours {self} must start before they end, within one day")

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def parse_hours(spec: str | Iterable[str]) -> tuple[WorkInterval, ...]:
    """``"09:00-12:00, 13:30-18:00"`` or a list of such strings; empty means a day off."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return _checked_day(tuple(WorkInterval.parse(item) for item in items if item.strip()))


def weekly(
    hours: str | Iterable[str], days: Iterable[str] = WEEKDAYS[:5]
) -> tuple[tuple[WorkInterval, ...], ...]:
    """The same hours on each of ``days`` (``"mon"`` .. ``"sun"``), nothing on the others."""
    intervals = parse_hours(hours)
    wanted = set(days)
    unknown = wanted - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
    return tuple(intervals if name in wanted else () for name in WEEKDAYS)


class WorkCalendar(Protocol):
    """What SLA logic needs from a calendar; business and 24/7 calendars both provide it."""

    @property
    def name(self) -> str: ...

    @property
    def working_day(self) -> timedelta:
        """Length of a usual working day, so policies can say ``P2D`` for two working days."""
        ...

    @property
    def working_week(self) -> timedelta: ...

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def between(self, a: datetime, b: datetime) -> timedelta: ...

    def is_working(self, t: datetime) -> bool: ...


@dataclass(frozen=True)
class CalendarTime:
    """Round-the-clock time, for policies that promise e.g. "within 24 hours" regardless of office."""

    name: str = "calendar"

    @property
    def working_day(self) -> timedelta:
        return _ONE_DAY

    @property
    def working_week(self) -> timedelta:
        return 7 * _ONE_DAY

    def add(self, start: datetime, duration: timedelta) -> datetime:
        _require_aware(start)
        if duration < timedelta(0):
            raise ValueError("cannot add a negative duration")
        return start.astimezone(UTC) + duration

    def between(self, a: datetime, b: datetime) -> timedelta:
        _require_aware(a)
        _require_aware(b)
        return b - a

    def is_working(self, t: datetime) -> bool:
        _require_aware(t)
        return True


CALENDAR_TIME = CalendarTime()


@dataclass(frozen=True)
class BusinessCalendar:
    """Office hours per weekday in a time zone, minus holidays, plus make-up working days.

    ``hours`` has seven entries, Monday first. A make-up day (e.g. the Saturday China works before
    Spring Festival) uses ``makeup_hours``, or the most common weekday hours when not given.
    """

    name: str
    timezone: str = "Asia/Shanghai"
    hours: tuple[tuple[WorkInterval, ...], ...] = field(default_factory=lambda: weekly("09:00-18:00"))
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    makeup_hours: tuple[WorkInterval, ...] | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _nominal: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _week_us: int = field(init=False, repr=False, compare=False)
    _fixed_special: tuple[date, ...] = field(init=False, repr=False, compare=False)
    _spans: dict[date, tuple[_Span, ...]] = field(init=False, repr=False, compare=False)
    _transitions: dict[int, tuple[date, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ValueError(f"calendar {self.name!r} needs hours for 7 weekdays, got {len(self.hours)}")
        hours = tuple(_checked_day(tuple(WorkInterval(*iv) for iv in day)) for day in self.hours)
        clash = set(self.holidays) & set(self.extra_workdays)
        if clash:
            days = ", ".join(d.isoformat() for d in sorted(clash))
            raise ValueError(f"calendar {self.name!r}: {days} is both a holiday and a make-up workday")
        nominal = tuple(sum(iv.end - iv.start for iv in day) * _US_PER_MINUTE for day in hours)
        if not any(nominal):
            raise ValueError(f"calendar {self.name!r} has no working hours on any weekday")
        makeup = self.makeup_hours if self.makeup_hours is not None else hours[_usual_weekday(nominal)]
        set_ = object.__setattr__  # frozen: derived fields are filled once, here
        set_(self, "hours", hours)
        set_(self, "holidays", frozenset(self.holidays))
        set_(self, "extra_workdays", frozenset(self.extra_workdays))
        set_(self, "makeup_hours", _checked_day(tuple(WorkInterval(*iv) for iv in makeup)))
        set_(self, "_zone", ZoneInfo(self.timezone))
        set_(self, "_nominal", nominal)
        set_(self, "_week_us", sum(nominal))
        set_(self, "_fixed_special", tuple(sorted(self.holidays | self.extra_workdays)))
        set_(self, "_spans", {})
        set_(self, "_transitions", {})

    @property
    def working_day(self) -> timedelta:
        return timedelta(microseconds=self._nominal[_usual_weekday(self._nominal)])

    @property
    def working_week(self) -> timedelta:
        return timedelta(microseconds=self._week_us)

    def is_working(self, t: datetime) -> bool:
        _require_aware(t)
        return any(s <= t < e for s, e in self._day_spans(self._local_date(t)))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has passed since ``start`` (UTC).

        Counting starts at the next opening when ``start`` is outside working hours; a duration
        that ends exactly at closing time gives the closing time, not the next morning.
        """
        _require_aware(start)
        if duration < timedelta(0):
            raise ValueError("cannot add a negative duration")
        start = start.astimezone(UTC)
        remaining = _micros(duration)
        if remaining == 0:
            return start
        day = self._local_date(start)
        found, remaining = self._consume(day, start, remaining)
        while found is None:
            day += _ONE_DAY
            special = self._next_special(day)
            if special > day:
                day, remaining = self._skip_ordinary(day, special, remaining)
            # Either an ordinary day the rest fits into, or the special day, counted exactly.
            found, remaining = self._consume(day, None, remaining)
        return found

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b``; negative when ``b`` is earlier."""
        _require_aware(a)
        _require_aware(b)
        if b < a:
            return -self.between(b, a)
        first, last = self._local_date(a), self._local_date(b)
        if first == last:
            return timedelta(microseconds=self._overlap(first, a, b))
        total = self._overlap(first, a, None) + self._full_days(first + _ONE_DAY, last)
        return timedelta(microseconds=total + self._overlap(last, None, b))

    def _local_date(self, t: datetime) -> date:
        return t.astimezone(self._zone).date()

    def _plan(self, day: date) -> tuple[WorkInterval, ...]:
        if day in self.holidays:
            return ()
        if day in self.extra_workdays:
            return self.makeup_hours or ()
        return self.hours[day.weekday()]

    def _day_spans(self, day: date) -> tuple[_Span, ...]:
        """The day's working hours as UTC instants (a DST gap or overlap changes their length)."""
        cached = self._spans.get(day)
        if cached is not None:
            return cached
        midnight = datetime(day.year, day.month, day.day)
        spans = []
        for interval in self._plan(day):
            start = _wall(midnight, interval.start, self._zone)
            end = _wall(midnight, interval.end, self._zone)
            if end > start:
                spans.append((start, end))
        if len(self._spans) > 20_000:
            self._spans.clear()  # bound memory in a long-running server; refilling is cheap
        result = self._spans[day] = tuple(spans)
        return result

    def _consume(self, day: date, since: datetime | None, remaining: int) -> tuple[datetime | None, int]:
        """Spend ``remaining`` µs on ``day`` after ``since``: the end instant, or what is left over."""
        for start, end in self._day_spans(day):
            if since is not None:
                if end <= since:
                    continue
                start = max(start, since)
            available = _micros(end - start)
            if remaining <= available:
                return start + timedelta(microseconds=remaining), 0
            remaining -= available
        return None, remaining

    def _overlap(self, day: date, since: datetime | None, until: datetime | None) -> int:
        total = 0
        for start, end in self._day_spans(day):
            lo = start if since is None else max(start, since)
            hi = end if until is None else min(end, until)
            if hi > lo:
                total += _micros(hi - lo)
        return total

    def _skip_ordinary(self, day: date, stop: date, remaining: int) -> tuple[date, int]:
        """Walk ordinary days before ``stop`` until ``remaining`` fits into one of them.

        Returns that day (earlier than ``stop``) or ``stop`` with what is still left to spend.
        """
        weeks = min((stop - day).days // 7, (remaining - 1) // self._week_us)
        remaining -= weeks * self._week_us
        day += timedelta(weeks=weeks)
        while day < stop:
            today = self._nominal[day.weekday()]
            if remaining <= today:
                return day, remaining
            remaining -= today
            day += _ONE_DAY
        return day, remaining

    def _full_days(self, day: date, stop: date) -> int:
        """Working µs of all days from ``day`` up to, not including, ``stop``."""
        total = 0
        while day < stop:
            special = min(self._next_special(day), stop)
            count = (special - day).days
            weeks, rest = divmod(count, 7)
            total += weeks * self._week_us
            total += sum(self._nominal[(day.weekday() + i) % 7] for i in range(rest))
            if special < stop:
                total += self._overlap(special, None, None)
            day = special + _ONE_DAY
        return total

    def _next_special(self, day: date) -> date:
        """First day on or after ``day`` whose hours differ from its weekday's usual hours."""
        fixed = self._fixed_special
        index = bisect.bisect_left(fixed, day)
        candidate = fixed[index] if index < len(fixed) else date.max
        for year in (day.year, day.year + 1):
            changes = self._dst_days(year)
            at = bisect.bisect_left(changes, day)
            if at < len(changes):
                return min(candidate, changes[at])
        # No clock change for two years (no DST here): a pseudo-special day keeps the search bounded.
        if day.year + 2 <= date.max.year:
            candidate = min(candidate, date(day.year + 2, 1, 1))
        return candidate

    def _dst_days(self, year: int) -> tuple[date, ...]:
        """Days of ``year`` whose UTC offset changes (and the day after, for changes at midnight)."""
        cached = self._transitions.get(year)
        if cached is not None:
            return cached
        days: set[date] = set()
        if date.min.year < year < date.max.year:
            day = date(year, 1, 1)
            offset = self._zone.utcoffset(datetime(year, 1, 1))
            while day.year == year:
                following = day + _ONE_DAY
                next_offset = self._zone.utcoffset(datetime(following.year, following.month, following.day))
                if next_offset != offset:
                    days.update((day, following))
                offset, day = next_offset, following
        result = self._transitions[year] = tuple(sorted(d for d in days if d.year == year))
        return result


def _wall(midnight: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    """Local wall time ``minutes`` after ``midnight`` as a UTC instant (a skipped time moves later)."""
    return (midnight + timedelta(minutes=minutes)).replace(tzinfo=zone).astimezone(UTC)


def _checked_day(day: tuple[WorkInterval, ...]) -> tuple[WorkInterval, ...]:
    for interval in day:
        interval.check()
    ordered = tuple(sorted(day))
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"working hours {before} and {after} overlap")
    return ordered


def _usual_weekday(nominal: Sequence[int]) -> int:
    """The weekday with the most common non-zero length (longest on a tie)."""
    counts = Counter(n for n in nominal if n)
    usual = max(counts, key=lambda n: (counts[n], n))
    return nominal.index(usual)


def _minutes(part: str, text: str) -> int:
    pieces = part.split(":")
    if len(pieces) != 2 or not all(p.isdigit() and len(p) == 2 for p in pieces):
        raise ValueError(f"working hours {text!r}: {part!r} is not a time like 09:00")
    hour, minute = int(pieces[0]), int(pieces[1])
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise ValueError(f"working hours {text!r}: {part!r} is not a time of day")
    return hour * 60 + minute


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime")
