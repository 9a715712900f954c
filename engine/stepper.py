"""Advancing a live instance: SpiffWorkflow's engine steps, then the engine's own work.

After SpiffWorkflow has run everything it can, service tasks wait in the STARTED state;
the stepper runs their handlers (inside a savepoint, retried, turned into an incident when
retries run out, or routed to an error boundary for a BPMN error), and loops until nothing
moves. Then it brings the rows that mirror the workflow up to date: open tasks, event
subscriptions (messages, timers), the instance status, and history events for each change.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from .actors import Actor
from .bpmn.specs import KIND_EXTERNAL, EngineServiceTask
from .bpmn.timers import timer_due
from .clock import as_utc
from .errors import BpmnErrorSignal, EngineError, ProcessFailed
from .handler_registry import HandlerContext, HandlerRegistry
from .history import NewEvent
from .instance_store import CANCELLED, COMPLETED, LiveInstance
from .models import Incident, Subscription
from .models import Task as TaskRow
from .sql import Prepared
from .task_rows import DeadlinePolicy, TaskRowInfo, service_task_info, user_task_info

INCIDENT_MARK = "engine_incident"
_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED
MAX_ROUNDS = 1000

_INSERT_TASK_ROWS = Prepared(insert(TaskRow))
_END_TASK_ROWS = Prepared(
    update(TaskRow)
    .where(TaskRow.id == bindparam("t_id"), TaskRow.state == "open")
    .values(state=bindparam("new_state"), ended_at=bindparam("ended"), ended_by=bindparam("by"))
)
_SELECT_OPEN_ROWS = select(TaskRow.id).where(
    TaskRow.instance_id == bindparam("instance_id"), TaskRow.state == "open"
)
_SELECT_SUBSCRIPTIONS = select(
    Subscription.task_id, Subscription.kind, Subscription.name, Subscription.due_at
).where(Subscription.instance_id == bindparam("instance_id"))


@dataclass
class Step:
    """One command's work on one instance, inside one transaction."""

    conn: Connection
    live: LiveInstance
    actor: Actor
    now: datetime
    # Messages thrown by this instance (or its handlers) for other instances.
    outgoing: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    # Who ended which task in this command (completion, not cancellation).
    ended_by: dict[str, str] = field(default_factory=dict)

    def record(
        self, event_type: str, data: dict[str, Any] | None = None, task: SpiffTask | None = None
    ) -> None:
        self.live.events.append(
            NewEvent(
                event_type,
                self.actor.name,
                data or {},
                task_id=str(task.id) if task is not None else None,
                element_id=getattr(task.task_spec, "bpmn_id", None) if task is not None else None,
            )
        )


# Called at the end of every sync with the task rows opened and the ids of those ended, in the
# command's transaction: the scheduler keeps SLA clocks and wake-up hints in step with the rows.
RowsSynced = Callable[[Step, list[TaskRowInfo], list[str]], None]


def spiff_error(exc: SpiffWorkflowException) -> ProcessFailed:
    task = getattr(exc, "task", None)
    element = getattr(getattr(task, "task_spec", None), "bpmn_id", None)
    detail = str(exc)
    original = exc.__context__
    if isinstance(original, EngineError):
        detail = f"{detail} ({original.message})" if original.message not in detail else detail
    where = f" at {element}" if element else ""
    return ProcessFailed(f"The process failed{where}: {detail}", element)


class Stepper:
    def __init__(
        self,
        handlers: HandlerRegistry,
        default_retries: int,
        deadline_policy: DeadlinePolicy | None = None,
        rows_synced: RowsSynced | None = None,
    ) -> None:
        self.handlers = handlers
        self.default_retries = default_retries
        self.deadline_policy = deadline_policy
        self.rows_synced = rows_synced

    # -- running ---------------------------------------------------------------------------

    def advance(self, step: Step) -> None:
        workflow = step.live.workflow
        try:
            for _ in range(MAX_ROUNDS):
                workflow.do_engine_steps()
                if not self._run_handlers(step):
                    break
        except SpiffWorkflowException as exc:
            raise spiff_error(exc) from exc
        for event in workflow.get_events():
            if isinstance(event.event_definition, MessageEventDefinition):
                payload = event.payload if isinstance(event.payload, dict) else {}
                step.outgoing.append((event.event_definition.name, step.live.header.business_key, payload))
        self.sync(step)

    def _waiting_service_tasks(self, step: Step) -> list[SpiffTask]:
        return [
            task
            for task in tasks_in_state(step.live.workflow, TaskState.STARTED)
            if isinstance(task.task_spec, EngineServiceTask)
            and task.task_spec.binding_kind != KIND_EXTERNAL
            and INCIDENT_MARK not in task.internal_data
        ]

    def _run_handlers(self, step: Step) -> bool:
        progressed = False
        for task in self._waiting_service_tasks(step):
            if task.state != TaskState.STARTED:
                continue  # an error boundary taken for an earlier task may have cancelled it
            self.run_handler(step, task)
            progressed = True
        return progressed

    def run_handler(self, step: Step, task: SpiffTask) -> None:
        spec: EngineServiceTask = task.task_spec
        registered = self.handlers.get(spec.handler_name)
        if registered is None:
            self._raise_incident(step, task, f"No handler named {spec.handler_name!r} is registered", 0)
            return
        limit = spec.max_retries if spec.max_retries is not None else registered.retries
        attempts_allowed = 1 + (limit if limit is not None else self.default_retries)
        for attempt in range(1, attempts_allowed + 1):
            step.record("handler_called", {"handler": spec.handler_name, "attempt": attempt}, task)
            context = HandlerContext(
                # A copy to the bottom: a handler changing a nested value in place must not
                # change the data of this task's ancestors (see SandboxEnvironment.execute).
                variables=copy.deepcopy(task.data),
                instance_id=step.live.header.id,
                business_key=step.live.header.business_key,
                process_key=step.live.header.process_key,
                element_id=spec.bpmn_id,
                handler=spec.handler_name,
                actor=step.actor.name,
                now=step.now,
                session=None,  # type: ignore[arg-type]  # set below, inside the savepoint
                parameters=_evaluated_parameters(task),
            )
            session = Session(bind=step.conn, join_transaction_mode="create_savepoint")
            context.session = session
            try:
                result = registered.function(context)
                session.commit()
            except BpmnErrorSignal as signal:
                session.commit()  # records the handler wrote before deciding stay, as in Camunda
                session.close()
                self.throw_error(step, task, signal)
                return
            except Exception as exc:
                session.rollback()
                session.close()
                step.record(
                    "handler_failed",
                    {"handler": spec.handler_name, "attempt": attempt, "error": _describe(exc)},
                    task,
                )
                if attempt < attempts_allowed:
                    step.record(
                        "handler_retried", {"handler": spec.handler_name, "attempt": attempt + 1}, task
                    )
                    continue
                self._raise_incident(step, task, _describe(exc), attempt)
                return
            session.close()
            step.outgoing.extend(context.messages)
            self.complete_service_task(step, task, result)
            return

    def complete_service_task(self, step: Step, task: SpiffTask, result: Any) -> None:
        spec: EngineServiceTask = task.task_spec
        if result is not None:
            if not isinstance(result, dict):
                result = dict(result)
            custom = spec.result_variable
            if custom and not custom.startswith("spiff__"):
                task.data[custom] = result
            else:
                task.data.update(result)
        step.record("handler_completed", {"handler": spec.handler_name, "result": result or {}}, task)
        task.complete()

    def throw_error(self, step: Step, task: SpiffTask, signal: BpmnErrorSignal) -> None:
        """Take the error boundary event of ``task`` that catches ``signal.code``."""
        step.record(
            "bpmn_error",
            {"code": signal.code, "message": signal.message, "variables": signal.variables},
            task,
        )
        boundary = _error_boundary(task, signal.code)
        if boundary is None:
            self._raise_incident(
                step, task, f"BPMN error {signal.code!r} is not caught by an error boundary event", 1
            )
            return
        task.data.update(signal.variables)
        boundary.data.update(signal.variables)
        event = BpmnEvent(boundary.task_spec.event_definition, payload=dict(signal.variables))
        boundary.task_spec.catch(boundary, event)
        boundary.task_spec._update(boundary)

    def _raise_incident(self, step: Step, task: SpiffTask, message: str, attempts: int) -> None:
        incident_id = str(uuid.uuid4())
        spec = task.task_spec
        step.conn.execute(
            insert(Incident).values(
                id=incident_id,
                instance_id=step.live.header.id,
                task_id=str(task.id),
                element_id=spec.bpmn_id,
                handler=getattr(spec, "handler_name", ""),
                message=message,
                attempts=attempts,
                state="open",
                created_at=step.now,
            )
        )
        task.internal_data[INCIDENT_MARK] = incident_id
        step.live.header.incidents += 1
        step.record(
            "incident_raised", {"incident_id": incident_id, "message": message, "attempts": attempts}, task
        )

    # -- mirroring the workflow in rows ------------------------------------------------------

    def sync(self, step: Step) -> None:
        live = step.live
        workflow = live.workflow
        if live.open_rows is None:
            live.open_rows = set(
                step.conn.execute(_SELECT_OPEN_ROWS, {"instance_id": live.header.id}).scalars()
            )
        current: dict[str, SpiffTask] = {}
        for task in tasks_in_state(workflow, TaskState.READY | TaskState.STARTED):
            spec = task.task_spec
            if (task.state == TaskState.READY and spec.manual) or (
                task.state == TaskState.STARTED
                and isinstance(spec, EngineServiceTask)
                and spec.binding_kind == KIND_EXTERNAL
            ):
                current[str(task.id)] = task
        ended = live.open_rows - current.keys()
        self._end_rows(step, ended)
        new = [current[t] for t in current.keys() - live.open_rows]
        opened = self._open_rows(step, new) if new else []
        live.open_rows = set(current)
        self._sync_subscriptions(step)
        if workflow.completed and live.header.status not in (COMPLETED, CANCELLED):
            live.header.status = COMPLETED
            live.ended_at = step.now
            step.record("instance_completed", {})
        self._close_incidents_of_ended_tasks(step)
        if self.rows_synced is not None:
            self.rows_synced(step, opened, sorted(ended))

    def _close_incidents_of_ended_tasks(self, step: Step) -> None:
        """Resolve the open incidents whose task ended some other way than a retry.

        A boundary event or a cancelled instance ends the failed task, and a worker may still
        complete an external task after reporting its last failure: the incident then has
        nothing left to retry (as in Camunda, it goes with its execution), in the history too.
        """
        header = step.live.header
        ended_for_good = header.status in (COMPLETED, CANCELLED)
        if header.incidents <= 0 and not ended_for_good:
            return  # the common case costs no statement
        rows = step.conn.execute(
            select(Incident.id, Incident.task_id).where(
                Incident.instance_id == header.id, Incident.state == "open"
            )
        ).all()
        workflow = step.live.workflow
        reason = "instance_cancelled" if header.status == CANCELLED else "task_ended"
        for incident_id, task_id in rows:
            task = workflow.get_task_from_id(uuid.UUID(task_id))
            if not ended_for_good and task is not None and not task.state & _FINISHED:
                continue
            step.conn.execute(
                update(Incident)
                .where(Incident.id == incident_id)
                .values(state="resolved", resolved_at=step.now, resolved_by=step.actor.name)
            )
            header.incidents = max(0, header.incidents - 1)
            step.record("incident_resolved", {"incident_id": incident_id, "by": reason}, task)

    def _end_rows(self, step: Step, ended: Iterable[str]) -> None:
        params = []
        for task_id in ended:
            by = step.ended_by.get(task_id)
            params.append(
                {
                    "t_id": task_id,
                    "new_state": "completed" if by else "cancelled",
                    "ended": step.now,
                    "by": by,
                }
            )
            if not by:
                step.live.events.append(NewEvent("task_cancelled", step.actor.name, {}, task_id=task_id))
        if params:
            _END_TASK_ROWS.execute_many(step.conn, params)

    def _open_rows(self, step: Step, tasks: list[SpiffTask]) -> list[TaskRowInfo]:
        header = step.live.header
        rows = []
        infos = []
        for task in tasks:
            try:
                info = (
                    service_task_info(task)
                    if isinstance(task.task_spec, EngineServiceTask)
                    else user_task_info(task, step.now)
                )
            except (WorkflowException, EngineError, ValueError, TypeError) as exc:
                raise ProcessFailed(
                    f"Could not work out the task's assignment at {task.task_spec.bpmn_id}: {exc}",
                    task.task_spec.bpmn_id,
                ) from exc
            if info.kind == "user" and self.deadline_policy is not None:
                policy_due = self.deadline_policy(info, _context_for(step), step.now)
                if policy_due is not None and info.due_at is None:
                    info.due_at = policy_due
            rows.append(_row(info, header, step.now))
            infos.append(info)
            step.record("task_created", _created_data(info), task)
        _INSERT_TASK_ROWS.execute_many(step.conn, rows)
        return infos

    def _sync_subscriptions(self, step: Step) -> None:
        live = step.live
        # (task id, kind, name) → (due time, element): an event-based gateway waits for several.
        wanted: dict[tuple[str, str, str | None], tuple[datetime | None, str]] = {}
        for task in live.workflow.event_manager.tasks.values():
            spec = task.task_spec
            if not isinstance(spec, CatchingEvent):
                continue
            definition = spec.event_definition
            multiple = isinstance(definition, MultipleEventDefinition)
            for one in definition.event_definitions if multiple else [definition]:
                if isinstance(one, MessageEventDefinition):
                    wanted[(str(task.id), "message", one.name)] = (None, spec.bpmn_id)
                elif isinstance(one, TimerEventDefinition):
                    wanted[(str(task.id), "timer", one.name)] = (timer_due(task), spec.bpmn_id)
        if live.subscriptions is None:
            live.subscriptions = {
                (row.task_id, row.kind, row.name): as_utc(row.due_at) if row.due_at is not None else None
                for row in step.conn.execute(_SELECT_SUBSCRIPTIONS, {"instance_id": live.header.id})
            }
        current = {key: value[0] for key, value in wanted.items()}
        if current == live.subscriptions:
            return
        stored = live.subscriptions
        gone = [key for key in stored if key not in current or stored[key] != current[key]]
        for task_id, kind, name in gone:
            step.conn.execute(
                delete(Subscription).where(
                    Subscription.instance_id == live.header.id,
                    Subscription.task_id == task_id,
                    Subscription.kind == kind,
                    Subscription.name.is_(None) if name is None else Subscription.name == name,
                )
            )
        added = [key for key in current if key not in stored or stored[key] != current[key]]
        if added:
            step.conn.execute(
                insert(Subscription),
                [
                    {
                        "instance_id": live.header.id,
                        "task_id": task_id,
                        "element_id": wanted[(task_id, kind, name)][1],
                        "kind": kind,
                        "name": name,
                        "business_key": live.header.business_key,
                        "due_at": wanted[(task_id, kind, name)][0],
                    }
                    for task_id, kind, name in added
                ],
            )
        live.subscriptions = current


def tasks_in_state(workflow: Any, mask: int) -> list[SpiffTask]:
    """Tasks of the workflow and its sub-workflows in any state of ``mask``.

    A plain pass over the task maps: SpiffWorkflow's tree iterator costs several times more,
    and this runs after every step.
    """
    found = [task for task in workflow.tasks.values() if task.state & mask]
    for sub in workflow.subprocesses.values():
        found.extend(task for task in sub.tasks.values() if task.state & mask)
    return found


def _error_boundary(task: SpiffTask, code: str) -> SpiffTask | None:
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    catch_all = None
    for sibling in parent.children:
        spec = sibling.task_spec
        if sibling is task or not isinstance(spec, CatchingEvent):
            continue
        definition = spec.event_definition
        if not isinstance(definition, ErrorEventDefinition) or sibling.state != TaskState.WAITING:
            continue
        if definition.code == code:
            return sibling
        if definition.code in (None, ""):
            catch_all = sibling
    return catch_all


def _evaluated_parameters(task: SpiffTask) -> dict[str, Any]:
    params = getattr(task.task_spec, "operation_params", None) or {}
    if not params:
        return {}
    evaluated: dict[str, Any] = task.task_spec.evaluate_params(task)
    return {name: value["value"] for name, value in evaluated.items()}


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}" if not isinstance(exc, EngineError) else text


def _context_for(step: Step) -> dict[str, Any]:
    workflow = step.live.workflow
    last = workflow.last_task
    return {
        "process_key": step.live.header.process_key,
        "business_key": step.live.header.business_key,
        "variables": dict(last.data) if last is not None else {},
    }


def _row(info: TaskRowInfo, header: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": info.id,
        "instance_id": header.id,
        "definition_id": header.definition_id,
        "process_key": header.process_key,
        "business_key": header.business_key,
        "element_id": info.element_id,
        "name": info.name,
        "documentation": info.documentation,
        "kind": info.kind,
        "state": "open",
        "role": info.role,
        "candidate_groups": info.candidate_groups,
        "candidate_users": info.candidate_users,
        "assignee": info.assignee,
        "owner": None,
        "form_key": info.form_key,
        "priority": info.priority,
        "created_at": now,
        "due_at": info.due_at,
        "topic": info.topic,
        "retries": None,
        "ended_at": None,
        "ended_by": None,
        "worker_id": None,
        "lock_expires_at": None,
        "error_message": None,
    }


def _created_data(info: TaskRowInfo) -> dict[str, Any]:
    data: dict[str, Any] = {"name": info.name, "kind": info.kind}
    for key in ("role", "assignee", "form_key", "topic"):
        value = getattr(info, key)
        if value:
            data[key] = value
    if info.due_at is not None:
        data["due_at"] = info.due_at.isoformat()
    return data
