"""Pausing and resuming deadlines by hand: one task, or every open task of a case.

Staff pause a deadline when the case waits on something outside the team (the customer is
travelling, a part is on order with the customer's consent); the time paused is not counted
and every stage not yet raised moves later by it. Each command is one transaction and leaves a
``sla_paused`` / ``sla_resumed`` event in the case's history.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from ..actors import (
    CASE_MANAGER_ROLES,
    Actor,
    comma_list,
    may_work_on,
    require_can_change,
    require_may_manage_cases,
)
from ..clock import Clock
from ..db import Database
from ..errors import BadRequest, Conflict, Forbidden, NotFound, ValidationError
from ..history import NewEvent
from ..models import Task as TaskRow
from .case_history import append_case_events, lock_cases
from .deadlines import DeadlinePlanner
from .hints import WakeHints
from .holds import MANUAL, STOPPED, Resumed, hold, release
from .models import SlaClockRow, SlaPause


class SlaCommands:
    def __init__(self, db: Database, clock: Clock, planner: DeadlinePlanner, hints: WakeHints) -> None:
        self.db = db
        self.clock = clock
        self.planner = planner
        self.hints = hints

    def pause(
        self,
        actor: Actor,
        *,
        task_id: str | None = None,
        instance_id: str | None = None,
        note: str | None = None,
    ) -> list[str]:
        """Hold the deadline of a task (or of every open task of a case); returns the tasks paused."""
        with self.db.transaction() as conn:
            case, task_ids = self._scope(conn, actor, task_id, instance_id, "pause deadlines")
            now = self.clock.now()
            held = hold(conn, task_ids, MANUAL, actor.name, now)
            if not held:
                what = "The deadline is" if task_id else "Every deadline of the case is"
                raise Conflict(f"{what} already paused")
            event = NewEvent("sla_paused", actor.name, {"reason": MANUAL, "tasks": held, "note": note},
                             task_id=task_id)
            append_case_events(conn, {case: [event]}, now)
            return held

    def resume(
        self, actor: Actor, *, task_id: str | None = None, instance_id: str | None = None
    ) -> dict[str, Resumed]:
        """End a pause made by hand; returns the clocks that run again (a customer wait may still hold)."""
        with self.db.transaction() as conn:
            case, task_ids = self._scope(conn, actor, task_id, instance_id, "resume deadlines")
            paused = conn.execute(
                select(SlaPause.task_id).where(
                    SlaPause.task_id.in_(task_ids), SlaPause.reason == MANUAL, SlaPause.ended_at.is_(None)
                )
            ).scalars().all()
            if not paused:
                message = "The deadline is not paused" if task_id else "No deadline of the case is paused"
                raise Conflict(message)
            now = self.clock.now()
            resumed = release(conn, paused, MANUAL, actor.name, now, self.planner)
            deadlines = {task: clock.deadline.isoformat() for task, clock in resumed.items()}
            event = NewEvent("sla_resumed", actor.name, {"reason": MANUAL, "tasks": sorted(set(paused)),
                                                          "deadlines": deadlines}, task_id=task_id)
            append_case_events(conn, {case: [event]}, now)
            dues = [clock.next_due for clock in resumed.values() if clock.next_due is not None]
            if dues:
                self.hints.due(conn, min(dues))
            return resumed

    @staticmethod
    def _scope(
        conn: Connection, actor: Actor, task_id: str | None, instance_id: str | None, what: str
    ) -> tuple[str, list[str]]:
        """The case to lock and the clocks to act on; checks who may."""
        if (task_id is None) == (instance_id is None):
            raise ValidationError("Name either a task or a case (instance), not both")
        if task_id is not None:
            task = conn.execute(select(TaskRow).where(TaskRow.id == task_id)).first()
            if task is None:
                raise NotFound(f"No task with id {task_id!r}")
            require_can_change(actor, what)
            candidates, groups = comma_list(task.candidate_users), comma_list(task.candidate_groups)
            manager = bool(CASE_MANAGER_ROLES & actor.roles)
            if not manager and not may_work_on(actor, task.role, task.assignee, candidates, groups):
                raise Forbidden(f"{actor.name} may not {what} of task {task.name or task_id!r}")
            if task.state != "open":
                raise Conflict(f"Task {task.name or task_id!r} is already {task.state}")
            lock_cases(conn, [task.instance_id])
            clocks = [task_id] if _has_clock(conn, task_id) else []
            if not clocks:
                raise BadRequest(f"Task {task.name or task_id!r} has no deadline")
            return task.instance_id, clocks
        assert instance_id is not None
        require_may_manage_cases(actor, what)
        lock_cases(conn, [instance_id])
        query = select(SlaClockRow.task_id).where(
            SlaClockRow.instance_id == instance_id, SlaClockRow.state != STOPPED
        )
        clocks = list(conn.execute(query).scalars())
        if not clocks:
            raise BadRequest(f"Process instance {instance_id} has no open task with a deadline")
        return instance_id, clocks


def _has_clock(conn: Connection, task_id: str) -> bool:
    query = select(SlaClockRow.task_id).where(SlaClockRow.task_id == task_id, SlaClockRow.state != STOPPED)
    return conn.execute(query).first() is not None
