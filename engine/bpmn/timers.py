"""BPMN timers: what modelers write, and when it fires by the engine's clock.

SpiffWorkflow evaluates a timer's text as a Python expression, so Camunda Modeler's
plain ``PT2H`` fails at run time. A plain ISO 8601 literal becomes a quoted string here,
once, at parse time; ``${…}`` expressions are translated like every other Camunda
expression; quoted strings and Python expressions are left as they are.

SpiffWorkflow's timer event definitions read ``datetime.now()``, so a test (or the
scheduler after a restart) could not move time past a timer. The parser creates the
subclasses below instead; they read the clock the engine attached to the workflow's script
engine (``ENGINE_CLOCK``), and store every due time as an aware UTC ISO text in the task's
``event_value``, from which ``timer_due`` tells the scheduler when to wake.

Cycles (``R3/PT10M``, ``R/2026-01-01T09:00:00+08:00/P1D``) are computed with the engine's strict
ISO 8601 reader, each firing from the cycle's origin so a daily cycle never drifts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Protocol

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from ..expressions import is_el, translate
from ..iso8601 import parse_cycle
from .cron import is_cron
from .cron import next_firing as cron_firing

# The attribute of a workflow's script engine that holds the engine's clock (see Engine).
ENGINE_CLOCK = "engine_clock"

# Dates, durations, week dates and repeating intervals, as ISO 8601 writes them.
_ISO_LITERAL = re.compile(
    r"""^(
        R\d*/.+                                  # repeating interval
      | P[0-9T][0-9A-Z.,]*                       # duration (validated strictly later)
      | \d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?   # date / date-time
      | \d{4}-?W\d{2}-?\d(T.+)?                  # week date
    )$""",
    re.VERBOSE | re.IGNORECASE,
)


def is_iso_literal(text: str) -> bool:
    return bool(_ISO_LITERAL.match(text.strip()))


def timer_expression(text: str | None) -> str | None:
    """The expression SpiffWorkflow should evaluate for a timer written as ``text``."""
    if text is None:
        return None
    stripped = text.strip()
    if is_iso_literal(stripped) or is_cron(stripped):
        return repr(stripped)
    if is_el(stripped):
        return translate(stripped)
    return stripped


def check_iso_timer(kind: str, literal: str) -> None:
    """Raise ValueError with a readable reason if ``literal`` is not a valid timer of ``kind``.

    ``kind`` is ``timeDate``, ``timeDuration`` or ``timeCycle``.
    """
    value = literal.strip()
    try:
        if kind == "timeCycle":
            if not value.upper().startswith("R"):
                raise ValueError("a cycle must be a repeating interval such as R3/PT10M")
            # The same reader the running timer uses, so what deploys also runs.
            parse_cycle(value, UTC)
        elif kind == "timeDuration":
            if not value.upper().startswith("P"):
                raise ValueError("a duration must start with P, such as PT2H")
            TimerEventDefinition.parse_iso_duration(value)
        else:
            parsed = TimerEventDefinition.parse_time_or_duration(value)
            if not isinstance(parsed, datetime):
                raise ValueError("a date must be an ISO 8601 date-time such as 2026-12-01T09:00:00Z")
    except ValueError:
        raise
    except Exception as exc:  # SpiffWorkflow raises bare Exceptions for bad ISO text
        raise ValueError(f"not a valid ISO 8601 {kind[4:].lower()}: {value!r} ({exc})") from exc


class _Clock(Protocol):
    def now(self) -> datetime: ...


def engine_now(task: SpiffTask) -> datetime:
    """The engine's time for ``task``'s workflow (the system clock outside an engine)."""
    clock: _Clock | None = getattr(task.workflow.script_engine, ENGINE_CLOCK, None)
    return clock.now() if clock is not None else datetime.now(UTC)


def _timer_text(task: SpiffTask, expression: str) -> str:
    value = task.workflow.script_engine.evaluate(task, expression)
    if isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip():
        raise _timer_error(task, f"the timer expression {expression!r} gave {value!r}, not ISO 8601 text")
    return value.strip()


def _timer_error(task: SpiffTask, reason: str) -> WorkflowTaskException:
    # A SpiffWorkflow exception carries the task, so the command fails naming the element.
    return WorkflowTaskException(f"Timer {task.task_spec.bpmn_id}: {reason}", task=task)


def first_firing(kind: str, text: str, now: datetime) -> datetime | None:
    """When a timer of ``kind`` written as ``text`` first fires, if it is reached at ``now``.

    A date fires at the date (at once if it has passed); a duration that long after ``now``; a
    cycle at its start date if that is still ahead, else one period after ``now``. None: a cycle
    whose repetitions all lie in the past. Raises ValueError for text that is not such a timer.
    """
    if kind == "timeCycle" and is_cron(text):
        return cron_firing(text, now)  # Camunda's Quartz cron cycles (engine.bpmn.cron)
    check_iso_timer(kind, text)
    first: datetime | None
    if kind == "timeCycle":
        cycle = parse_cycle(text, UTC)
        start = cycle.start
        first = start if start is not None and start >= now else cycle.next_after(now, now)
    elif kind == "timeDuration":
        parsed = TimerEventDefinition.parse_iso_duration(text)
        first = now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
    else:
        first = TimerEventDefinition.parse_time_or_duration(text)
    return first.astimezone(UTC) if first is not None else None


def next_cycle_firing(text: str, anchor: datetime, now: datetime) -> datetime | None:
    """The cycle's first repetition after ``now`` (None: used up), counted from its origin.

    Repetitions missed while no scheduler ran are coalesced into the firing that happens now, as
    cron and APScheduler do: a daily reminder that was down for three days reminds once.
    """
    if is_cron(text):
        return cron_firing(text, now)
    following = parse_cycle(text, UTC).next_after(now, anchor)
    return following.astimezone(UTC) if following is not None else None


def _first_or_fail(task: SpiffTask, text: str, kind: str, now: datetime) -> datetime | None:
    try:
        return first_firing(kind, text, now)
    except ValueError as exc:
        raise _timer_error(task, str(exc)) from exc


def _stored_due(task: SpiffTask) -> datetime | None:
    value = task.internal_data.get("event_value")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class _OneShotTimer:
    """A date or a duration: the due time is fixed when the event is reached, then compared."""

    kind = ""
    expression: str

    def has_fired(self, my_task: SpiffTask) -> bool:
        if not my_task.internal_data.get("event_fired", False):
            now = engine_now(my_task)
            due = _stored_due(my_task)
            if due is None:
                due = _first_or_fail(my_task, _timer_text(my_task, self.expression), self.kind, now)
                my_task.internal_data["event_value"] = _iso(due)
            if due is not None and due <= now:
                my_task.internal_data["event_fired"] = True
        return bool(my_task.internal_data.get("event_fired", False))


class EngineTimeDateEventDefinition(_OneShotTimer, TimeDateEventDefinition):
    """Fires once the engine's clock reaches the date."""

    kind = "timeDate"


class EngineDurationTimerEventDefinition(_OneShotTimer, DurationTimerEventDefinition):
    """Fires the duration after the event was reached, by the engine's clock."""

    kind = "timeDuration"


class EngineCycleTimerEventDefinition(CycleTimerEventDefinition):
    """Fires at each repetition of the cycle; SpiffWorkflow spawns a path per firing.

    ``event_value`` keeps SpiffWorkflow's shape (``cycles`` left, -1 for ever; ``next``) plus the
    cycle's text and anchor, so every firing is computed from the cycle's origin rather than by
    adding periods to a firing that came late; missed repetitions are coalesced.
    """

    kind = "timeCycle"

    def cycle_complete(self, my_task: SpiffTask) -> bool:
        now = engine_now(my_task)
        value = my_task.internal_data.get("event_value")
        if value is None:
            text = _timer_text(my_task, self.expression)
            first = _first_or_fail(my_task, text, self.kind, now)
            value = {"cycles": -1 if first else 0, "next": _iso(first)}
            value.update(expression=text, anchor=_iso(now))
        ready = False
        due = value["next"] if value["cycles"] != 0 else None
        if due is not None and datetime.fromisoformat(due) <= now:
            following = next_cycle_firing(value["expression"], datetime.fromisoformat(value["anchor"]), now)
            value = {**value, "cycles": -1 if following else 0, "next": _iso(following)}
            ready = True
        my_task.internal_data["event_value"] = value
        return ready

    def update_task(self, my_task: SpiffTask) -> None:
        super().update_task(my_task)  # starts the repetition's path when one is due
        value = my_task.internal_data.get("event_value")
        used_up = isinstance(value, dict) and value.get("cycles") == 0
        if used_up and isinstance(my_task.task_spec, StartEvent) and my_task.state == TaskState.WAITING:
            # A start event whose cycle is used up starts nothing more: it ends, so the scope it
            # belongs to (the parent of an event sub-process) can end once its work is done.
            my_task.internal_data["event_fired"] = True
            my_task._ready()


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


ENGINE_TIMER_DEFINITIONS: dict[type, type] = {
    TimeDateEventDefinition: EngineTimeDateEventDefinition,
    DurationTimerEventDefinition: EngineDurationTimerEventDefinition,
    CycleTimerEventDefinition: EngineCycleTimerEventDefinition,
}


def timer_due(task: SpiffTask) -> datetime | None:
    """When a waiting timer task fires next (None: it never will, or has not been reached)."""
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        if value.get("cycles") == 0 or not value.get("next"):
            return None
        return datetime.fromisoformat(value["next"]).astimezone(UTC)
    if isinstance(value, str):
        try:
            return TimerEventDefinition.get_datetime(value)
        except ValueError:
            return None
    return None


class TimerExpressionMixin:
    """Accepts timers as modelers write them (plain ISO 8601, ``${…}``) besides quoted Python,
    and makes them run on the engine's clock."""

    def parse_timer_event(self, event: Any) -> Any:
        definition = super().parse_timer_event(event)  # type: ignore[misc]
        engine_class = ENGINE_TIMER_DEFINITIONS.get(type(definition), type(definition))
        return engine_class(
            definition.name, timer_expression(definition.expression), description=definition.description
        )


class EngineStartEventParser(TimerExpressionMixin, SpiffStartEventParser):
    pass


class EngineIntermediateCatchEventParser(
    TimerExpressionMixin, SpiffIntermediateCatchEventParser
):
    pass


class EngineBoundaryEventParser(TimerExpressionMixin, SpiffBoundaryEventParser):
    pass
