"""Service-level deadlines for user tasks: policies, stage times, the pausable clock, the policy file.

A policy gives each customer tier an amount of working time; from it follow four stages, each a
point in working time counted from the task's creation: a reminder some time before the deadline, a
warning at a fraction of it, the breach, and an escalation some time after. The clock stops while
the case waits on the customer, so every stage not yet reached moves later by the working time
spent waiting; reassigning the task keeps the same clock; completing it stops the clock.

This module is pure time logic: the scheduler turns ``Deadline`` stage times into timers and the
store persists ``SlaClock`` events.
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from engine.calendar import (
    CALENDAR_TIME,
    WEEKDAYS,
    BusinessCalendar,
    WorkCalendar,
    WorkInterval,
    parse_hours,
)
from engine.errors import BadRequest, DefinitionError, Problem
from engine.iso8601 import Iso8601Error, parse_iso_duration

TIERS = ("A", "B", "C")
_Built = TypeVar("_Built")
DEFAULT_TIER = "default"
_ZERO = timedelta(0)


class SlaStage(enum.Enum):
    """The moments an SLA announces, in the order they normally come."""

    REMINDER = "reminder"
    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"

    @property
    def order(self) -> int:
        return _STAGE_ORDER[self]


_STAGE_ORDER = {stage: index for index, stage in enumerate(SlaStage)}


@dataclass(frozen=True)
class SlaPolicy:
    """How much working time a task gets per customer tier, and when each stage fires.

    ``escalate_to`` None means "the manager of the task's role" (see ``PolicySet.escalation_role``).
    """

    name: str
    durations: Mapping[str, timedelta] = field(hash=False)
    default: timedelta
    calendar: str = CALENDAR_TIME.name
    reminder_before: timedelta | None = None
    warning_at: float | None = None
    escalate_after: timedelta | None = None
    escalate_to: str | None = None

    def __post_init__(self) -> None:
        for tier, amount in [*self.durations.items(), (DEFAULT_TIER, self.default)]:
            if tier not in (*TIERS, DEFAULT_TIER):
                raise ValueError(f"unknown customer tier {tier!r}; tiers are {', '.join(TIERS)}")
            if amount <= _ZERO:
                raise ValueError(f"the duration for tier {tier} must be longer than zero")
        listed = [(tier, self.durations[tier]) for tier in TIERS if tier in self.durations]
        for (better, shorter), (worse, longer) in pairwise(listed):
            if shorter > longer:
                raise ValueError(f"tier {better} must not get more time than tier {worse}")
        if self.reminder_before is not None and self.reminder_before <= _ZERO:
            raise ValueError("reminder_before must be longer than zero")
        if self.warning_at is not None and not 0 < self.warning_at < 1:
            raise ValueError("warning_at must be a fraction between 0 and 1 (e.g. 0.75)")
        if self.escalate_after is not None and self.escalate_after < _ZERO:
            raise ValueError("escalate_after must not be negative")

    def duration_for(self, tier: str | None) -> timedelta:
        """Working time for a customer tier; an unknown or missing tier gets the default."""
        return self.durations.get(tier or DEFAULT_TIER, self.default)

    def offsets(self, tier: str | None) -> list[tuple[SlaStage, timedelta]]:
        """Each stage's working time after the start, in firing order.

        A reminder that would come at or before the start (reminder longer than the whole SLA)
        is left out rather than fired the moment the task appears.
        """
        total = self.duration_for(tier)
        stages = [(SlaStage.BREACH, total)]
        if self.reminder_before is not None and self.reminder_before < total:
            stages.append((SlaStage.REMINDER, total - self.reminder_before))
        if self.warning_at is not None:
            stages.append((SlaStage.WARNING, total * self.warning_at))
        if self.escalate_after is not None:
            stages.append((SlaStage.ESCALATION, total + self.escalate_after))
        return sorted(stages, key=lambda item: (item[1], item[0].order))


@dataclass(frozen=True)
class Deadline:
    """When a task is due, and every stage time in firing order (all UTC)."""

    due_at: datetime
    stages: tuple[tuple[SlaStage, datetime], ...]

    def at(self, stage: SlaStage) -> datetime | None:
        return next((when for s, when in self.stages if s is stage), None)

    def next_after(self, moment: datetime) -> tuple[SlaStage, datetime] | None:
        """The first stage strictly after ``moment``: the one to schedule a timer for."""
        return next(((s, when) for s, when in self.stages if when > moment), None)


def compute_deadline(
    policy: SlaPolicy,
    calendar: WorkCalendar,
    tier: str | None,
    started_at: datetime,
    paused: timedelta = _ZERO,
) -> Deadline:
    """Stage times for a task started at ``started_at`` that has waited ``paused`` working time."""
    if paused < _ZERO:
        raise ValueError("paused time cannot be negative")
    stages = tuple(
        (stage, calendar.add(started_at, offset + paused)) for stage, offset in policy.offsets(tier)
    )
    return Deadline(_due(stages), stages)


@dataclass(frozen=True)
class Pause:
    """The case waited on the customer from ``start`` until ``end`` (None: still waiting)."""

    start: datetime
    end: datetime | None = None


class ClockState(enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SlaStatus:
    """Where a task's SLA stands at ``now``; ``next_stage`` is None while paused or stopped."""

    state: ClockState
    used: timedelta
    remaining: timedelta
    overdue: timedelta
    paused: timedelta
    reached: tuple[SlaStage, ...]
    next_stage: tuple[SlaStage, datetime] | None
    deadline: Deadline


@dataclass(frozen=True)
class SlaClock:
    """A task's SLA clock as a history of pauses, so the store can persist it as plain events.

    Immutable: ``pause``, ``resume`` and ``stop`` return a new clock. There is deliberately no
    way to restart it: reassigning a task keeps its clock.
    """

    calendar: WorkCalendar
    started_at: datetime
    pauses: tuple[Pause, ...] = ()
    stopped_at: datetime | None = None

    def __post_init__(self) -> None:
        moments = [self.started_at]
        for index, pause in enumerate(self.pauses):
            if pause.end is None and index != len(self.pauses) - 1:
                raise ValueError("only the last pause may still be open")
            moments.extend(m for m in (pause.start, pause.end) if m is not None)
        if self.stopped_at is not None:
            if self.pauses and self.pauses[-1].end is None:
                raise ValueError("a stopped clock cannot have an open pause")
            moments.append(self.stopped_at)
        if any(m.tzinfo is None for m in moments):
            raise ValueError("clock times must be timezone-aware")
        if any(later < earlier for earlier, later in pairwise(moments)):
            raise ValueError("clock events must be in time order and not overlap")

    @property
    def state(self) -> ClockState:
        if self.stopped_at is not None:
            return ClockState.STOPPED
        if self.pauses and self.pauses[-1].end is None:
            return ClockState.PAUSED
        return ClockState.RUNNING

    def pause(self, at: datetime) -> SlaClock:
        if self.state is not ClockState.RUNNING:
            raise BadRequest(f"cannot pause an SLA clock that is {self.state.value}")
        self._check_after_last_event(at)
        return replace(self, pauses=(*self.pauses, Pause(at)))

    def resume(self, at: datetime) -> SlaClock:
        if self.state is not ClockState.PAUSED:
            raise BadRequest(f"cannot resume an SLA clock that is {self.state.value}")
        self._check_after_last_event(at)
        return replace(self, pauses=(*self.pauses[:-1], Pause(self.pauses[-1].start, at)))

    def stop(self, at: datetime) -> SlaClock:
        """Completing the task: a pause still open ends here too."""
        if self.state is ClockState.STOPPED:
            raise BadRequest("the SLA clock is already stopped")
        self._check_after_last_event(at)
        clock = self.resume(at) if self.state is ClockState.PAUSED else self
        return replace(clock, stopped_at=at)

    def used(self, now: datetime) -> timedelta:
        """Working time counted so far (time waiting on the customer excluded)."""
        end = self._end(now)
        return sum(
            (self.calendar.between(a, min(b or end, end)) for a, b in self._running(now) if a < end), _ZERO
        )

    def paused_time(self, now: datetime) -> timedelta:
        """Working time spent waiting on the customer so far."""
        end = self._end(now)
        return sum(
            (self.calendar.between(p.start, min(p.end or end, end)) for p in self.pauses if p.start < end),
            _ZERO,
        )

    def at_used(self, offset: timedelta, now: datetime) -> datetime:
        """The instant the clock reaches ``offset`` of working time.

        A pause still open is assumed to end at ``now``, so while the case waits the projection
        moves forward as time passes; the scheduler should hold timers until ``resume``.
        """
        counted = _ZERO
        segments = self._running(now)
        for start, end in segments[:-1]:
            assert end is not None  # only the last stretch is open
            length = self.calendar.between(start, end)
            if offset <= counted + length:
                return self.calendar.add(start, offset - counted)
            counted += length
        return self.calendar.add(segments[-1][0], offset - counted)

    def deadline(self, policy: SlaPolicy, tier: str | None, now: datetime) -> Deadline:
        """Stage times shifted by the pauses that came before each stage (not those after)."""
        stages = tuple((stage, self.at_used(offset, now)) for stage, offset in policy.offsets(tier))
        return Deadline(_due(stages), stages)

    def status(self, policy: SlaPolicy, tier: str | None, now: datetime) -> SlaStatus:
        used = self.used(now)
        total = policy.duration_for(tier)
        deadline = self.deadline(policy, tier, now)
        reached = tuple(stage for stage, offset in policy.offsets(tier) if offset <= used)
        state = self.state
        return SlaStatus(
            state=state,
            used=used,
            remaining=max(total - used, _ZERO),
            overdue=max(used - total, _ZERO),
            paused=self.paused_time(now),
            reached=reached,
            next_stage=deadline.next_after(now) if state is ClockState.RUNNING else None,
            deadline=deadline,
        )

    def _end(self, now: datetime) -> datetime:
        return min(now, self.stopped_at) if self.stopped_at is not None else now

    def _running(self, now: datetime) -> list[tuple[datetime, datetime | None]]:
        """Stretches the clock ran; the last ends at the stop, or is open (None).

        An open pause counts as ending at ``now``, which is what projections after it assume.
        """
        segments: list[tuple[datetime, datetime | None]] = []
        start = self.started_at
        for pause in self.pauses:
            segments.append((start, pause.start))
            start = pause.end if pause.end is not None else max(now, pause.start)
        segments.append((start, self.stopped_at))
        return segments

    def _check_after_last_event(self, at: datetime) -> None:
        events = [self.started_at, *(m for p in self.pauses for m in (p.start, p.end) if m is not None)]
        if at.tzinfo is None or at < max(events):
            raise BadRequest("SLA clock events must be timezone-aware and not earlier than the last event")


def _due(stages: tuple[tuple[SlaStage, datetime], ...]) -> datetime:
    return next(when for stage, when in stages if stage is SlaStage.BREACH)


@dataclass(frozen=True)
class PolicyMatch:
    """Which tasks a policy applies to; the more specific the selector, the higher it ranks."""

    policy: str
    process: str | None = None
    task: str | None = None
    role: str | None = None

    @property
    def key(self) -> tuple[str | None, str | None, str | None]:
        return (self.process, self.task, self.role)


@dataclass(frozen=True)
class PolicySet:
    """Everything in one SLA file: calendars, policies, who applies where, and the role hierarchy."""

    calendars: Mapping[str, WorkCalendar]
    policies: Mapping[str, SlaPolicy]
    matches: tuple[PolicyMatch, ...] = ()
    managers: Mapping[str, str] = field(default_factory=dict)
    default_policy: str | None = None
    source: str | None = None
    # (process or None for any, element id): while a case is at one, it waits on the customer.
    customer_waits: frozenset[tuple[str | None, str]] = frozenset()
    _index: dict[tuple[str | None, str | None, str | None], str] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {m.key: m.policy for m in self.matches})

    def for_task(self, process_key: str, element_id: str, role: str | None) -> SlaPolicy | None:
        """Most specific match wins: process+task, then process+role, process, role, the default.

        A process-wide rule outranks a role-wide one because the customer promise belongs to the
        process ("complaints are answered within 4 hours") whoever works on it.
        """
        candidates: list[tuple[str | None, str | None, str | None]] = [(process_key, element_id, None)]
        if role:
            candidates.append((process_key, None, role))
        candidates.append((process_key, None, None))
        if role:
            candidates.append((None, None, role))
        for key in candidates:
            name = self._index.get(key)
            if name is not None:
                return self.policies[name]
        return self.policies.get(self.default_policy) if self.default_policy else None

    def waits_on_customer(self, process_key: str | None, element_id: str) -> bool:
        """Is a case at this element (of this process) waiting on the customer?"""
        return (process_key, element_id) in self.customer_waits or (None, element_id) in self.customer_waits

    def calendar_for(self, policy: SlaPolicy) -> WorkCalendar:
        return self.calendars[policy.calendar]

    def escalation_role(self, policy: SlaPolicy, task_role: str | None) -> str | None:
        """Who gets the escalation: the policy's role, else the manager of the task's role."""
        if policy.escalate_to:
            return policy.escalate_to
        return self.managers.get(task_role) if task_role else None

    def deadline_for_task(
        self,
        process_key: str,
        element_id: str,
        role: str | None,
        tier: str | None,
        started_at: datetime,
    ) -> Deadline | None:
        policy = self.for_task(process_key, element_id, role)
        if policy is None:
            return None
        return compute_deadline(policy, self.calendar_for(policy), tier, started_at)


def load_policies(path: str | Path) -> PolicySet:
    """Read an SLA policy file; every problem found is reported at once, with file and line."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError([Problem(f"cannot read SLA policy file: {exc.strerror}", file=file)]) from None
    return parse_policies(text, file)


def parse_policies(text: str, file: str = "<sla>") -> PolicySet:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise DefinitionError([Problem(f"not valid TOML: {exc}", file=file, line=line)]) from None
    return _PolicyReader(text, file).read(data)


_TOP_KEYS = {"defaults", "calendars", "roles", "policies", "customer_waits"}
_DEFAULT_KEYS = {"calendar", "policy", "reminder_before", "warning_at", "escalate_after", "escalate_to"}
_CALENDAR_KEYS = {"timezone", "hours", "workdays", "days", "holidays", "makeup_workdays", "makeup_hours"}
_POLICY_KEYS = {
    "calendar",
    "durations",
    "reminder_before",
    "warning_at",
    "escalate_after",
    "escalate_to",
    "match",
}
_MATCH_KEYS = {"process", "task", "role"}
_MATCH_KEYS_ORDER = ("process", "task", "role")
_KeyPath = tuple[str, ...]


class _PolicyReader:
    """Turns the decoded TOML into a PolicySet, collecting problems instead of stopping at the first."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = _KeyLines(text)
        self.problems: list[Problem] = []

    def problem(self, path: _KeyPath, message: str, value: object = None) -> None:
        hint = value if isinstance(value, str) else None
        self.problems.append(
            Problem(message, file=self.file, line=self.lines.line_of(path, hint), element_id=".".join(path))
        )

    def read(self, data: dict[str, Any]) -> PolicySet:
        self.unknown_keys((), data, _TOP_KEYS)
        defaults = self.table(("defaults",), data.get("defaults", {}))
        self.unknown_keys(("defaults",), defaults, _DEFAULT_KEYS)
        managers = self.read_roles(self.table(("roles",), data.get("roles", {})))
        calendars: dict[str, WorkCalendar] = {CALENDAR_TIME.name: CALENDAR_TIME}
        for name, spec in self.table(("calendars",), data.get("calendars", {})).items():
            calendar = self.read_calendar(name, spec)
            if calendar is not None:
                calendars[name] = calendar
        known_roles = set(managers) | set(managers.values())
        policies: dict[str, SlaPolicy] = {}
        matches: list[PolicyMatch] = []
        for name, spec in self.table(("policies",), data.get("policies", {})).items():
            policy = self.read_policy(name, spec, defaults, calendars, known_roles)
            if policy is not None:
                policies[name] = policy
            matches.extend(self.read_matches(name, spec, known_roles))
        default_policy = defaults.get("policy")
        if default_policy is not None and default_policy not in data.get("policies", {}):
            self.problem(("defaults", "policy"), f"default policy {default_policy!r} is not defined")
        self.check_duplicates(matches)
        waits = self.read_customer_waits(data.get("customer_waits", []))
        if self.problems:
            raise DefinitionError(self.problems)
        return PolicySet(calendars, policies, tuple(matches), managers, default_policy, self.file, waits)

    def read_customer_waits(self, entries: object) -> frozenset[tuple[str | None, str]]:
        """``[[customer_waits]]`` tables: ``element`` (required) and ``process`` (the one defining it)."""
        path = ("customer_waits",)
        if not isinstance(entries, list):
            self.problem(path, "customer_waits must be a list of { process = , element = } tables")
            return frozenset()
        waits = set()
        for index, entry in enumerate(entries):
            where = (*path, str(index))
            if not isinstance(entry, dict) or set(entry) - {"process", "element"}:
                self.problem(where, "each customer wait is a table of element and, optionally, process")
            elif not isinstance(entry.get("element"), str) or not entry["element"]:
                self.problem(where, "a customer wait needs the element id it waits at: element = \"...\"")
            elif "process" in entry and (not isinstance(entry["process"], str) or not entry["process"]):
                self.problem(where, "process must be the id of the process that defines the element")
            else:
                waits.add((entry.get("process"), entry["element"]))
        return frozenset(waits)

    def table(self, path: _KeyPath, value: object) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.problem(path, f"{'.'.join(path)} must be a table")
        return {}

    def unknown_keys(self, path: _KeyPath, table: Mapping[str, Any], allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                self.problem((*path, key), f"unknown key {key!r}; expected one of {expected}")

    def read_roles(self, roles: dict[str, Any]) -> dict[str, str]:
        managers: dict[str, str] = {}
        for role, manager in roles.items():
            if not isinstance(manager, str) or not manager:
                self.problem(("roles", role), f"the manager of role {role!r} must be a role name")
            elif manager == role:
                self.problem(("roles", role), f"role {role!r} cannot be its own manager")
            else:
                managers[role] = manager
        return managers

    def read_calendar(self, name: str, spec: object) -> BusinessCalendar | None:
        path = ("calendars", name)
        if name == CALENDAR_TIME.name:
            self.problem(path, f"{name!r} is reserved for round-the-clock time; choose another name")
            return None
        table = self.table(path, spec)
        self.unknown_keys(path, table, _CALENDAR_KEYS)
        before = len(self.problems)
        zone = table.get("timezone")
        if not isinstance(zone, str):
            self.problem((*path, "timezone"), 'timezone is required, e.g. "Asia/Shanghai"')
            zone = "UTC"
        hours = self.read_week(path, table)
        holidays = self.read_dates((*path, "holidays"), table.get("holidays", []))
        extra = self.read_dates((*path, "makeup_workdays"), table.get("makeup_workdays", []))
        makeup = table.get("makeup_hours")
        makeup_hours = self.hours_of((*path, "makeup_hours"), makeup) if makeup else None
        if len(self.problems) > before:
            return None
        try:
            return BusinessCalendar(name, zone, hours, frozenset(holidays), frozenset(extra), makeup_hours)
        except (ValueError, KeyError) as exc:
            # ZoneInfoNotFoundError is a KeyError whose text is just the quoted name.
            message = f"unknown time zone {zone!r}" if isinstance(exc, KeyError) else str(exc)
            self.problem((*path, "timezone") if isinstance(exc, KeyError) else path, message, zone)
            return None

    def read_week(self, path: _KeyPath, table: Mapping[str, Any]) -> tuple[Any, ...]:
        hours = self.hours_of((*path, "hours"), table.get("hours", "09:00-18:00"))
        workdays = table.get("workdays", list(WEEKDAYS[:5]))
        if not isinstance(workdays, list) or any(day not in WEEKDAYS for day in workdays):
            self.problem((*path, "workdays"), f"workdays must be a list of {', '.join(WEEKDAYS)}")
            workdays = []
        week = [hours or () if day in workdays else () for day in WEEKDAYS]
        for day, spec in self.table((*path, "days"), table.get("days", {})).items():
            if day not in WEEKDAYS:
                self.problem((*path, "days", day), f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
                continue
            week[WEEKDAYS.index(day)] = self.hours_of((*path, "days", day), spec) or ()
        return tuple(week)

    def hours_of(self, path: _KeyPath, spec: object) -> tuple[WorkInterval, ...] | None:
        if not isinstance(spec, str) and not (
            isinstance(spec, list) and all(isinstance(item, str) for item in spec)
        ):
            self.problem(path, 'working hours must be a list like ["09:00-12:00", "13:30-18:00"]')
            return None
        return self.guard(path, lambda: parse_hours(spec))

    def read_dates(self, path: _KeyPath, entries: object) -> set[date]:
        """Entries are dates, ``{date = ..., name = ...}`` or ``{from = ..., to = ..., name = ...}``."""
        days: set[date] = set()
        if not isinstance(entries, list):
            self.problem(path, "must be a list of dates")
            return days
        for index, entry in enumerate(entries):
            where = (*path, str(index))
            if isinstance(entry, dict):
                unknown = set(entry) - {"date", "from", "to", "name"}
                first = entry.get("from", entry.get("date"))
                last = entry.get("to", first)
            else:
                unknown, first, last = set(), entry, entry
            if unknown or not isinstance(first, date) or not isinstance(last, date) or not _is_date(first):
                self.problem(where, f"entry {index + 1} must be a date (2026-10-01) or {{from = , to = }}")
            elif not _is_date(last):
                self.problem(where, f"entry {index + 1}: 'to' must be a date without a time")
            elif last < first:
                self.problem(where, f"entry {index + 1} ends before it starts")
            else:
                days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
        return days

    def read_policy(
        self,
        name: str,
        spec: object,
        defaults: Mapping[str, Any],
        calendars: Mapping[str, WorkCalendar],
        known_roles: set[str],
    ) -> SlaPolicy | None:
        path = ("policies", name)
        table = self.table(path, spec)
        self.unknown_keys(path, table, _POLICY_KEYS)
        before = len(self.problems)
        settings = {**{k: v for k, v in defaults.items() if k != "policy"}, **table}
        calendar_name = settings.get("calendar", CALENDAR_TIME.name)
        calendar = calendars.get(calendar_name) if isinstance(calendar_name, str) else None
        if calendar is None:
            self.problem((*path, "calendar"), f"calendar {calendar_name!r} is not defined", calendar_name)
            return None
        durations = self.read_durations(path, table.get("durations"), calendar)

        def where(key: str) -> _KeyPath:
            # A value inherited from [defaults] is reported where it is written.
            return (*path, key) if key in table else ("defaults", key)

        reminder = self.optional_duration(where("reminder_before"), settings, calendar)
        escalate_after = self.optional_duration(where("escalate_after"), settings, calendar)
        warning_at = settings.get("warning_at", False)
        if warning_at is not False and (isinstance(warning_at, bool) or not isinstance(warning_at, float)):
            self.problem(where("warning_at"), "warning_at must be a fraction like 0.75, or false")
            warning_at = False
        escalate_to = settings.get("escalate_to")
        if escalate_to is not None and escalate_to not in known_roles:
            self.problem(where("escalate_to"), f"escalate_to names unknown role {escalate_to!r}", escalate_to)
        if len(self.problems) > before or durations is None:
            return None
        default = durations.pop(DEFAULT_TIER)
        return self.guard(
            path,
            lambda: SlaPolicy(
                name,
                durations,
                default,
                calendar.name,
                reminder,
                None if warning_at is False else warning_at,
                escalate_after,
                escalate_to,
            ),
        )

    def read_durations(
        self, path: _KeyPath, spec: object, calendar: WorkCalendar
    ) -> dict[str, timedelta] | None:
        where = (*path, "durations")
        if not isinstance(spec, dict):
            example = '{ A = "PT4H", B = "PT8H", C = "P2D", default = "P2D" }'
            self.problem(where, f"durations are required, e.g. {example}")
            return None
        durations: dict[str, timedelta] = {}
        for tier, text in spec.items():
            if tier not in (*TIERS, DEFAULT_TIER):
                self.problem((*where, tier), f"unknown tier {tier!r}; use {', '.join(TIERS)} or default")
                continue
            amount = self.duration((*where, tier), text, calendar)
            if amount is not None:
                durations[tier] = amount
        if DEFAULT_TIER not in spec:
            self.problem(where, "durations need a 'default' for customers without a tier")
        return durations if DEFAULT_TIER in durations else None

    def optional_duration(
        self, path: _KeyPath, settings: Mapping[str, Any], calendar: WorkCalendar
    ) -> timedelta | None:
        value = settings.get(path[-1], False)
        if value is False:
            return None  # false switches the stage off, also when the defaults turn it on
        return self.duration(path, value, calendar)

    def duration(self, path: _KeyPath, text: object, calendar: WorkCalendar) -> timedelta | None:
        """ISO 8601 working time; a day is one working day of the calendar, a week one working week."""
        if not isinstance(text, str):
            self.problem(path, 'must be an ISO 8601 duration in quotes, e.g. "PT4H"')
            return None
        try:
            parsed = parse_iso_duration(text)
            return parsed.to_timedelta(calendar.working_day, calendar.working_week)
        except Iso8601Error as exc:
            self.problem(path, str(exc), text)
            return None

    def read_matches(self, name: str, spec: object, known_roles: set[str]) -> list[PolicyMatch]:
        path = ("policies", name, "match")
        entries = spec.get("match", []) if isinstance(spec, dict) else []
        if not isinstance(entries, list):
            self.problem(path, "match must be a list of { process = , task = } or { role = } tables")
            return []
        matches = []
        for index, entry in enumerate(entries):
            where = (*path, str(index))
            if not isinstance(entry, dict) or not entry or set(entry) - _MATCH_KEYS:
                self.problem(where, "each match is a table of process, task and/or role")
                continue
            if any(not isinstance(v, str) or not v for v in entry.values()):
                self.problem(where, "process, task and role must be non-empty strings")
                continue
            match = PolicyMatch(name, entry.get("process"), entry.get("task"), entry.get("role"))
            if match.task and not match.process:
                self.problem(where, "a task id needs its process: { process = ..., task = ... }", match.task)
            elif match.task and match.role:
                self.problem(where, "match a task by process and task, or by role, not both")
            elif match.role and match.role not in known_roles:
                self.problem(where, f"unknown role {match.role!r}; add it to [roles]", match.role)
            else:
                matches.append(match)
        return matches

    def check_duplicates(self, matches: Iterable[PolicyMatch]) -> None:
        seen: dict[tuple[str | None, str | None, str | None], str] = {}
        for match in matches:
            other = seen.setdefault(match.key, match.policy)
            if other != match.policy:
                what = ", ".join(f"{k}={v}" for k, v in zip(_MATCH_KEYS_ORDER, match.key, strict=True) if v)
                self.problem(
                    ("policies", match.policy, "match"),
                    f"{what} is matched by both policy {other!r} and {match.policy!r}",
                )

    def guard(self, path: _KeyPath, build: Callable[[], _Built]) -> _Built | None:
        """Run a constructor that validates by raising ValueError, recording the problem at ``path``."""
        try:
            return build()
        except (ValueError, TypeError) as exc:
            self.problem(path, str(exc))
            return None


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


class _KeyLines:
    """Best-effort line numbers for key paths, since tomllib reports none for values."""

    _ARRAY = re.compile(r"^\[\[\s*([^\]]+?)\s*\]\]")
    _TABLE = re.compile(r"^\[\s*([^\]]+?)\s*\]")
    _PART = r"(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
    _KEY = re.compile(rf"^({_PART}(?:\s*\.\s*{_PART})*)\s*=")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.index: dict[_KeyPath, int] = {}
        table: _KeyPath = ()
        arrays: dict[_KeyPath, int] = {}
        for number, raw in enumerate(self.lines, 1):
            line = raw.strip()
            if found := self._ARRAY.match(line):
                path = _split_key(found.group(1))
                arrays[path] = arrays.get(path, -1) + 1
                table = (*path, str(arrays[path]))
                self.index.setdefault(table, number)
            elif found := self._TABLE.match(line):
                table = _split_key(found.group(1))
                self.index.setdefault(table, number)
            elif found := self._KEY.match(line):
                self.index.setdefault((*table, *_split_key(found.group(1))), number)

    def line_of(self, path: _KeyPath, value: str | None = None) -> int | None:
        """Line of the nearest key on ``path``; if ``value`` is given, the first line after it showing it."""
        known = path
        while known and known not in self.index:
            known = known[:-1]
        line = self.index.get(known) if known else None
        if line is not None and value:
            for number in range(line, min(line + 200, len(self.lines)) + 1):
                if f'"{value}"' in self.lines[number - 1] or f"'{value}'" in self.lines[number - 1]:
                    return number
        return line


def _split_key(text: str) -> _KeyPath:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([^.\s]+)", text)
    return tuple(next(p for p in groups if p) if any(groups) else "" for groups in parts)
