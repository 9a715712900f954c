"""Timer start events: a schedule row per timer start event of the latest version of each process.

Deploying a new version of a process replaces the schedule of its earlier versions (as Camunda
does): a cycle then restarts from the deploy, a date fires once for the new version. A timer
start event fires by starting an instance of the definition its row belongs to.

Timer start events must be ISO 8601 literals: there is no case data yet to evaluate an
expression over, so anything else is refused at deploy, naming the element.
"""

from __future__ import annotations

import ast
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import Connection, delete, insert

from ..bpmn.timers import first_firing
from ..deploy import StoredDefinition
from ..errors import DefinitionError, Problem
from .hints import WakeHints
from .models import TimerStart


def timer_kind(definition: TimerEventDefinition) -> str:
    if isinstance(definition, CycleTimerEventDefinition):
        return "timeCycle"
    if isinstance(definition, DurationTimerEventDefinition):
        return "timeDuration"
    return "timeDate"


def timer_start_events(definition: StoredDefinition) -> list[tuple[str, str, str]]:
    """(element id, kind, ISO 8601 text) of each timer start event of the process itself."""
    found = []
    problems = []
    spec = definition.spec
    for task_spec in spec.task_specs.values() if spec is not None else ():
        event = getattr(task_spec, "event_definition", None)
        if not isinstance(task_spec, StartEvent) or not isinstance(event, TimerEventDefinition):
            continue
        text = _literal(event.expression)
        if text is None:
            problems.append(
                Problem(
                    "A timer start event needs an ISO 8601 date, duration or cycle written out "
                    f"(e.g. R/P1D), not the expression {event.expression!r}: no case data exists yet",
                    element_id=task_spec.bpmn_id,
                    code="timer",
                )
            )
            continue
        found.append((task_spec.bpmn_id, timer_kind(event), text))
    if problems:
        raise DefinitionError(problems)
    return found


def _literal(expression: str) -> str | None:
    try:
        value = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


class TimerStartSchedule:
    """The deploy listener that keeps ``timer_starts`` in step with the latest versions."""

    def __init__(self, hints: WakeHints) -> None:
        self.hints = hints

    def on_deployed(self, conn: Connection, stored: list[StoredDefinition], now: datetime) -> None:
        rows: list[dict[str, Any]] = []
        dues: list[datetime] = []
        for definition in stored:
            conn.execute(delete(TimerStart).where(TimerStart.process_key == definition.key))
            if not definition.executable:
                continue
            for element_id, kind, text in timer_start_events(definition):
                try:
                    due = first_firing(kind, text, now)
                except ValueError as exc:
                    problem = Problem(f"Unparsable timer: {exc}", element_id=element_id, code="timer")
                    raise DefinitionError([problem]) from exc
                rows.append(
                    {
                        "process_key": definition.key, "definition_id": definition.id,
                        "element_id": element_id, "kind": kind, "expression": text, "anchor": now,
                        "due_at": due, "fired": 0, "last_instance_id": None, "lease_owner": None,
                        "lease_until": None,
                    }
                )
                if due is not None:
                    dues.append(due)
        if rows:
            conn.execute(insert(TimerStart), rows)
        if dues:
            self.hints.due(conn, min(dues))
