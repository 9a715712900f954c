"""Holding a case's SLA clocks while the case waits on the customer.

A case waits on the customer while it is at an element listed under ``[[customer_waits]]`` in the
SLA file (a message catch for the customer's answer, the timer before calling an unreachable
customer again, a call activity running a callback, …). Meanwhile the clocks of the case's other
open tasks are held; they resume with the time they had left when the case moves on. Whether a
case was waiting is remembered on its live workflow, so the database is asked only after a cached
workflow was evicted.
"""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, select

from ..history import NewEvent
from ..instance_store import LiveInstance
from ..stepper import Step, tasks_in_state
from ..task_rows import defining_process
from .deadlines import DeadlinePlanner
from .holds import CUSTOMER, STOPPED, hold, release
from .models import SlaClockRow, SlaPause

_KNOWN = "engine_customer_waits"  # attribute of a LiveInstance: the task ids it waited at, if known
_STATES = TaskState.WAITING | TaskState.READY | TaskState.STARTED


class CustomerWaits:
    def __init__(self, planner: DeadlinePlanner) -> None:
        self.planner = planner

    @property
    def active(self) -> bool:
        return bool(self.planner.policies is not None and self.planner.policies.customer_waits)

    def follow(self, step: Step, *, clocks_started: bool) -> list[datetime]:
        """Hold or release the case's clocks as its waiting changed; returns when resumed ones are due."""
        live = step.live
        waiting = self.waiting_at(live)
        known: frozenset[str] | None = getattr(live, _KNOWN, None)
        was_waiting = bool(known) if known is not None else _has_holds(step.conn, live.header.id)
        resumed: list[datetime] = []
        if waiting and (not was_waiting or clocks_started or known != frozenset(waiting)):
            self._hold_others(step, waiting)
        elif not waiting and was_waiting:
            resumed = self._release(step)
        setattr(live, _KNOWN, frozenset(waiting))
        return resumed

    def waiting_at(self, live: LiveInstance) -> dict[str, str]:
        """The tasks of the case that wait on the customer: task id → element id."""
        policies = self.planner.policies
        if policies is None:
            return {}
        found = {}
        for task in tasks_in_state(live.workflow, _STATES):
            element = getattr(task.task_spec, "bpmn_id", None)
            if element and policies.waits_on_customer(defining_process(task), element):
                found[str(task.id)] = element
        return found

    @staticmethod
    def _hold_others(step: Step, waiting: dict[str, str]) -> None:
        others = select(SlaClockRow.task_id).where(
            SlaClockRow.instance_id == step.live.header.id,
            SlaClockRow.state != STOPPED,
            SlaClockRow.task_id.not_in(list(waiting)),
        )
        held = hold(step.conn, step.conn.execute(others).scalars(), CUSTOMER, step.actor.name, step.now)
        if held:
            data = {"reason": CUSTOMER, "tasks": held, "waiting_at": sorted(set(waiting.values()))}
            step.live.events.append(NewEvent("sla_paused", step.actor.name, data))

    def _release(self, step: Step) -> list[datetime]:
        holding = select(SlaPause.task_id).where(
            SlaPause.instance_id == step.live.header.id,
            SlaPause.reason == CUSTOMER,
            SlaPause.ended_at.is_(None),
        )
        task_ids = step.conn.execute(holding).scalars()
        resumed = release(step.conn, task_ids, CUSTOMER, step.actor.name, step.now, self.planner)
        if resumed:
            deadlines = {task_id: clock.deadline.isoformat() for task_id, clock in resumed.items()}
            step.live.events.append(
                NewEvent("sla_resumed", step.actor.name, {"reason": CUSTOMER, "deadlines": deadlines})
            )
        return [clock.next_due for clock in resumed.values() if clock.next_due is not None]


def _has_holds(conn: Connection, instance_id: str) -> bool:
    query = select(SlaPause.id).where(
        SlaPause.instance_id == instance_id, SlaPause.reason == CUSTOMER, SlaPause.ended_at.is_(None)
    )
    return conn.execute(query.limit(1)).first() is not None
