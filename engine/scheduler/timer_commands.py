"""Engine commands the scheduler runs when a timer falls due: each is one transaction.

``fire_timer`` moves a case past its due BPMN timers (intermediate, boundary, interrupting or
not) exactly as any other command moves a case: lock the instance, take its workflow, let
SpiffWorkflow re-check its timers by the engine's clock, advance, save with history. The claimed
subscription row is re-read under the instance lock; if its lease is no longer this scheduler's,
someone else has done or is doing the work and nothing happens.

``start_by_timer`` starts an instance for a due timer start event and moves the schedule row to
the next repetition in the same transaction, so a start is never lost or doubled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select, update

from ..actors import Actor
from ..bpmn.timers import next_cycle_firing, timer_due
from ..clock import Clock, as_utc
from ..db import Database
from ..instance_store import RUNNING
from ..models import Subscription
from ..runtime import Runtime, take_only_start_event
from ..stepper import Step, spiff_error
from .claim import Claimed, release, still_mine
from .hints import WakeHints
from .models import TimerStart
from .sources import BPMN_TIMERS, TIMER_STARTS

SCHEDULER_ACTOR = Actor("scheduler", system=True)
# A suspended case's timers are looked at again this often; they fire once it is resumed.
SUSPENDED_RECHECK = timedelta(minutes=1)


class TimerCommands:
    def __init__(self, db: Database, runtime: Runtime, clock: Clock, hints: WakeHints) -> None:
        self.db = db
        self.runtime = runtime
        self.clock = clock
        self.hints = hints

    def fire_timer(self, claimed: Claimed, owner: str) -> bool:
        """Fire the due timers of the claimed subscription's case; False if there was nothing to do."""
        instance_id = claimed.data["instance_id"]
        with self.db.transaction() as conn:
            header = self.runtime.store.header(conn, instance_id, lock=True)
            row = conn.execute(
                select(Subscription).where(Subscription.id == claimed.key).with_for_update()
            ).first()
            now = self.clock.now()
            if not still_mine(row, BPMN_TIMERS, owner, now):
                return False
            if header.status != RUNNING:
                conn.execute(delete(Subscription).where(Subscription.id == claimed.key))
                return False
            if header.suspended:
                release(conn, BPMN_TIMERS, [claimed.key], until=now + SUSPENDED_RECHECK)
                return False
            with self.runtime._instance(conn, instance_id, SCHEDULER_ACTOR) as step:
                fired = self._refresh_timers(step)
                self.runtime.stepper.advance(step)
            # Still there only if the timer did not fire after all; it is claimed again when due.
            release(conn, BPMN_TIMERS, [claimed.key])
            return fired

    @staticmethod
    def _refresh_timers(step: Step) -> bool:
        workflow = step.live.workflow
        waiting = {
            task.id: timer_due(task)
            for task in workflow.event_manager.tasks.values()
            if isinstance(task.task_spec.event_definition, TimerEventDefinition)
        }
        try:
            workflow.refresh_timers()
        except SpiffWorkflowException as exc:
            raise spiff_error(exc) from exc
        fired = False
        for task_id, due in waiting.items():
            task = workflow.get_task_from_id(task_id)
            if task is None or task.state != TaskState.WAITING or timer_due(task) != due:
                fired = True
                step.record("timer_fired", {"due_at": due.isoformat() if due else None}, task)
        return fired

    def start_by_timer(self, claimed: Claimed, owner: str) -> str | None:
        """Start an instance for a due timer start event; None if it was not this scheduler's to do."""
        with self.db.transaction() as conn:
            query = select(TimerStart).where(TimerStart.id == claimed.key).with_for_update()
            row = conn.execute(query).first()
            now = self.clock.now()
            if row is None or not still_mine(row, TIMER_STARTS, owner, now):
                return None
            due = as_utc(row.due_at)
            instance_id = self.runtime._start(
                conn, SCHEDULER_ACTOR, None, row.definition_id, None, {}, None,
                prepare=lambda step: _fire_start_event(step, row.element_id, due),
            )
            following = None
            if row.kind == "timeCycle":
                following = next_cycle_firing(row.expression, as_utc(row.anchor), now)
            conn.execute(
                update(TimerStart)
                .where(TimerStart.id == row.id)
                .values(due_at=following, fired=row.fired + 1, last_instance_id=instance_id)
                .values(lease_owner=None, lease_until=None)
            )
            if following is not None:
                self.hints.due(conn, following)
            return instance_id


def _fire_start_event(step: Step, element_id: str, due: datetime) -> None:
    """Let the instance's timer start event fire now, as its schedule row says it is due; only it."""
    workflow = step.live.workflow

    def this_start_event(task: SpiffTask) -> bool:
        return getattr(task.task_spec, "bpmn_id", None) == element_id and task.workflow is workflow

    try:
        for task in take_only_start_event(workflow, this_start_event):
            spec = task.task_spec
            if task.state == TaskState.WAITING:
                # What SpiffWorkflow's event manager does for a caught event, aimed at this one task.
                # (A date already passed made it READY when the instance came up to it.)
                spec.catch(task, BpmnEvent(spec.event_definition))
                spec._update(task)
            if not task.children:
                # A cycle start event never predicts its path (in SpiffWorkflow it would spawn one
                # per repetition); here each repetition is an instance of its own, taking it once.
                task._sync_children(spec.outputs, TaskState.FUTURE)
                for child in task.children:
                    # Predicted onwards too, else a next element that branches (a sub-process
                    # with boundary events) would complete without its own children.
                    child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
            step.record("timer_fired", {"due_at": due.isoformat(), "start_event": element_id}, task)
    except SpiffWorkflowException as exc:
        raise spiff_error(exc) from exc
