"""SLA clocks follow the task rows: started when a user task's row opens, stopped when it ends.

``DeadlineKeeper`` plugs into the stepper twice, inside every command's transaction: as its
``deadline_policy`` (the due time written on the new task row and in its ``task_created``
event) and as its ``rows_synced`` hook (clock rows, holds while the case waits on the customer,
wake-up hints for the scheduler).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from ..instance_store import LiveInstance
from ..sql import Prepared
from ..stepper import Step
from ..task_rows import TaskRowInfo
from .customer_waits import CustomerWaits
from .deadlines import DeadlinePlanner, StagePlan, customer_tier, schedule_json
from .hints import WakeHints
from .holds import RUNNING, STOPPED
from .models import SlaClockRow, SlaPause

# Run in every command that ends or opens a user task: compiled once (see engine/sql.py).
_INSERT_CLOCKS = Prepared(insert(SlaClockRow))
_STOP_CLOCKS = Prepared(
    update(SlaClockRow)
    .where(SlaClockRow.task_id == bindparam("t_id"), SlaClockRow.state != STOPPED)
    .values(state=STOPPED, stopped_at=bindparam("now"), next_stage=None, due_at=None)
    .values(lease_owner=None, lease_until=None)
)
_UNSTOPPED_CLOCKS = Prepared(
    select(SlaClockRow.task_id).where(
        SlaClockRow.instance_id == bindparam("instance_id"), SlaClockRow.state != STOPPED
    )
)
# Attribute of a LiveInstance: ids of its tasks whose clocks are not stopped (absent: not read yet).
# Most tasks have no clock (no policy, no camunda:dueDate); knowing which do saves the two
# statements that would stop their clocks and end their pauses in every command that ends one.
# Only this keeper creates clock rows in a command, and a live instance is reused only at the
# row version it was saved at, so the set cannot miss a clock; a stale extra id costs a no-op.
_CLOCKED = "engine_clocked_tasks"
_END_PAUSES = Prepared(
    update(SlaPause)
    .where(SlaPause.task_id == bindparam("t_id"), SlaPause.ended_at.is_(None))
    .values(ended_at=bindparam("now"), ended_by=bindparam("by"))
)


class DeadlineKeeper:
    def __init__(self, planner: DeadlinePlanner, hints: WakeHints) -> None:
        self.planner = planner
        self.hints = hints
        self.customer_waits = CustomerWaits(planner)

    # -- the stepper's deadline_policy ---------------------------------------------------------

    def __call__(self, info: TaskRowInfo, context: Mapping[str, Any], now: datetime) -> datetime | None:
        plan = self._plan(info, context, now, None)
        return plan.due_at if plan is not None else None

    def _plan(
        self, info: TaskRowInfo, context: Mapping[str, Any], now: datetime, diagram_due: datetime | None
    ) -> StagePlan | None:
        tier = customer_tier(context.get("variables") or {})
        process = info.defined_in or context["process_key"]
        return self.planner.plan(process, info.element_id, info.role, tier, now, diagram_due)

    # -- the stepper's rows_synced hook ----------------------------------------------------------

    def rows_synced(self, step: Step, opened: list[TaskRowInfo], ended: list[str]) -> None:
        if ended:
            clocked = _clocked(step)
            stopping = [task_id for task_id in ended if task_id in clocked]
            if stopping:
                self._stop(step.conn, stopping, step.now, step.actor.name)
                clocked.difference_update(stopping)
        started = self._start(step, [info for info in opened if info.kind == "user" and info.due_at])
        if self.customer_waits.active:
            resumed = self.customer_waits.follow(step, clocks_started=bool(started))
            started.extend(resumed)
        subscriptions = (step.live.subscriptions or {}).items()
        soonest = [*started, *(due for (_task, kind, _name), due in subscriptions if kind == "timer" and due)]
        if soonest:
            self.hints.due(step.conn, min(soonest))

    def _start(self, step: Step, infos: list[TaskRowInfo]) -> list[datetime]:
        if not infos:
            return []
        context = {
            "process_key": step.live.header.process_key,
            "variables": _variables(step.live),
        }
        rows = []
        for info in infos:
            assert info.due_at is not None
            plan = self._plan(info, context, step.now, None)
            if plan is None or plan.due_at != info.due_at:
                # The diagram's camunda:dueDate set this deadline, not the policy file.
                plan = self._plan(info, context, step.now, info.due_at)
            assert plan is not None
            rows.append(clock_row(info, step.live.header.id, plan))
        _INSERT_CLOCKS.execute_many(step.conn, rows)
        known: set[str] | None = getattr(step.live, _CLOCKED, None)
        if known is not None:
            known.update(row["task_id"] for row in rows)
        return [row["due_at"] for row in rows]

    @staticmethod
    def _stop(conn: Connection, task_ids: list[str], now: datetime, by: str) -> None:
        """Completing (or cancelling) a task stops its clock for good; reassigning does not."""
        _STOP_CLOCKS.execute_many(conn, [{"t_id": task_id, "now": now} for task_id in task_ids])
        _END_PAUSES.execute_many(conn, [{"t_id": task_id, "now": now, "by": by} for task_id in task_ids])


def _clocked(step: Step) -> set[str]:
    known: set[str] | None = getattr(step.live, _CLOCKED, None)
    if known is None:
        rows = _UNSTOPPED_CLOCKS.all(step.conn, {"instance_id": step.live.header.id})
        known = {row[0] for row in rows}
        setattr(step.live, _CLOCKED, known)
    return known


def _variables(live: LiveInstance) -> dict[str, Any]:
    # What the stepper gives its deadline policy: the data of the task that ran last.
    last = live.workflow.last_task
    return dict(last.data) if last is not None else {}


def clock_row(info: TaskRowInfo, instance_id: str, plan: StagePlan) -> dict[str, Any]:
    """The ``sla_clocks`` row of a task that opens with ``plan`` (bench/alarms.py bulk-loads these)."""
    schedule = plan.schedule()
    first = schedule[0]
    return {
        "task_id": info.id,
        "instance_id": instance_id,
        "policy": plan.policy,
        "tier": plan.tier,
        "calendar": plan.calendar.name,
        "role": plan.role,
        "escalate_to": plan.escalate_to,
        "offsets": plan.offsets_json(),
        "schedule": schedule_json(schedule),
        "started_at": plan.started_at,
        "state": RUNNING,
        "stopped_at": None,
        "deadline_at": plan.due_at,
        "next_stage": first[0].value,
        "due_at": first[1],
        "lease_owner": None,
        "lease_until": None,
    }
