"""Runtime commands: each is one transaction that moves one (or, for messages, a few) instances.

Every command follows the same shape: lock the instance row, take its live workflow, change
it, let the stepper advance it, save what changed with the history events, commit. Any
error rolls everything back and drops the live workflow from the cache.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, bindparam, select, update

from .actors import (
    Actor,
    comma_list,
    require_can_change,
    require_may_manage_cases,
    require_may_start,
    require_may_work_on,
)
from .bpmn.parser import initiator_variable
from .clock import Clock
from .db import Database
from .errors import BadRequest, BpmnErrorSignal, Conflict, NotFound, ValidationError
from .forms import validate_submission
from .instance_store import CANCELLED, RUNNING, InstanceHeader, InstanceStore, LiveInstance
from .json_values import MAX_VARIABLE_DEPTH, deeper_than, encodable, lone_surrogate_message, too_deep_message
from .models import Definition, Incident, Instance, Subscription
from .models import Task as TaskRow
from .sql import Prepared
from .stepper import INCIDENT_MARK, Step, Stepper, spiff_error, tasks_in_state
from .variables import VariableChange, change_variables, check_removals

MAX_MESSAGE_HOPS = 20
# Tasks before the start events (the start task, the start-event split): a handful at most.
MAX_START_STEPS = 10


@dataclass
class TaskRef:
    """The row of an open task, as read at the start of a command."""

    id: str
    instance_id: str
    kind: str
    state: str
    name: str | None
    role: str | None
    candidate_groups: str | None
    assignee: str | None
    owner: str | None
    candidate_users: str | None
    form_key: str | None
    topic: str | None
    worker_id: str | None

    @property
    def candidates(self) -> list[str]:
        return comma_list(self.candidate_users)

    @property
    def groups(self) -> list[str]:
        return comma_list(self.candidate_groups)


_SELECT_TASK = select(
    TaskRow.id,
    TaskRow.instance_id,
    TaskRow.kind,
    TaskRow.state,
    TaskRow.name,
    TaskRow.role,
    TaskRow.candidate_groups,
    TaskRow.assignee,
    TaskRow.owner,
    TaskRow.candidate_users,
    TaskRow.form_key,
    TaskRow.topic,
    TaskRow.worker_id,
)
_SELECT_TASK_BY_ID = Prepared(_SELECT_TASK.where(TaskRow.id == bindparam("task_id")))


def check_variables(variables: Any, what: str = "variables") -> dict[str, Any]:
    """Variables must be a JSON object with names usable in expressions, holding JSON values
    (no NaN or Infinity) at most MAX_VARIABLE_DEPTH levels deep."""
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise ValidationError(f"The {what} must be a JSON object, not {type(variables).__name__}")
    errors = []
    for name in variables:
        if not isinstance(name, str) or not name or name.startswith("_"):
            errors.append(f"{name!r} is not a valid variable name")
    # Before json.dumps, which recurses: a value some hundreds of levels deep would fail it.
    too_deep = [too_deep_message(str(n)) for n, v in variables.items() if deeper_than(v, MAX_VARIABLE_DEPTH)]
    errors.extend(too_deep)
    if not too_deep:
        try:
            json.dumps(dict(variables), allow_nan=False, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            errors.append(lone_surrogate_message("a text"))
        except (TypeError, ValueError) as exc:
            errors.append(f"not JSON data: {exc}")
    if errors:
        raise ValidationError(f"Invalid {what}: " + "; ".join(errors))
    return dict(variables)


class Runtime:
    def __init__(
        self,
        db: Database,
        store: InstanceStore,
        stepper: Stepper,
        clock: Clock,
        script_engine_factory: Callable[[], Any],
    ) -> None:
        self.db = db
        self.store = store
        self.stepper = stepper
        self.clock = clock
        self.script_engine = script_engine_factory()
        store.script_engine = self.script_engine

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _instance(self, conn: Connection, instance_id: str, actor: Actor) -> Iterator[Step]:
        live = self.store.load(conn, instance_id)
        step = Step(conn, live, actor, self.clock.now())
        try:
            yield step
            self._save(step)
        except BaseException:
            # The workflow in memory may be half-changed; the next command reloads it.
            raise
        else:
            self.store.cache.put(live)

    def _save(self, step: Step) -> None:
        self.store.save(step.conn, step.live, step.now, _variables(step.live.workflow))
        outgoing, step.outgoing = step.outgoing, []
        for name, business_key, payload in outgoing:
            self._deliver(step.conn, name, business_key, payload, step.actor, hops=1)

    def _task(self, conn: Connection, task_id: str) -> TaskRef:
        """The open task ``task_id``, as committed once its instance is locked for this command.

        Every check a command makes (open, assignee, role, worker) must see the row as the last
        command on the instance left it. SQLite's BEGIN IMMEDIATE already serialised the whole
        transaction; on PostgreSQL the first read may predate a claim or completion that was
        committing, so the row is read again once the instance row lock is held.
        """
        ref = self._read_task(conn, task_id)
        if not self.db.is_sqlite:
            self.store.header(conn, ref.instance_id, lock=True)
            ref = self._read_task(conn, task_id)
        if ref.state != "open":
            raise Conflict(f"Task {ref.name or task_id!r} is already {ref.state}")
        return ref

    @staticmethod
    def _read_task(conn: Connection, task_id: str) -> TaskRef:
        row = _SELECT_TASK_BY_ID.first(conn, {"task_id": task_id})
        if row is None:
            raise NotFound(f"No task with id {task_id!r}")
        return TaskRef(*row)

    def _user_task(self, conn: Connection, task_id: str) -> TaskRef:
        """The open user task ``task_id``: service and external tasks are their handler's or worker's."""
        ref = self._task(conn, task_id)
        if ref.kind != "user":
            raise BadRequest(
                f"Task {ref.name or task_id!r} is a {ref.kind} task: its "
                f"{'worker' if ref.kind == 'external' else 'handler'} works on it, not people"
            )
        return ref

    @staticmethod
    def _spiff_task(live: LiveInstance, task_id: str) -> SpiffTask:
        task = live.workflow.get_task_from_id(UUID(task_id))
        if task is None:
            raise Conflict(f"Task {task_id} is no longer part of instance {live.header.id}")
        return task

    @staticmethod
    def _require_running(live: LiveInstance, what: str) -> None:
        header = live.header
        if header.status != RUNNING:
            raise Conflict(f"Process instance {header.id} is {header.status}; cannot {what}")
        if header.suspended:
            raise Conflict(f"Process instance {header.id} is suspended; resume it to {what}")

    # -- starting ----------------------------------------------------------------------------

    def start(
        self,
        *,
        actor: Actor,
        process_key: str | None = None,
        definition_id: str | None = None,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> str:
        require_can_change(actor, "start processes")
        data = check_variables(variables)
        with self.db.transaction() as conn:
            return self._start(conn, actor, process_key, definition_id, business_key, data, None)

    def _start(
        self,
        conn: Connection,
        actor: Actor,
        process_key: str | None,
        definition_id: str | None,
        business_key: str | None,
        data: dict[str, Any],
        message: str | None,
        prepare: Callable[[Step], None] | None = None,
    ) -> str:
        """Start an instance; ``prepare`` may act on it before its first step (a timer start fires)."""
        if business_key is not None and not encodable(business_key):
            raise ValidationError(lone_surrogate_message("The business key"))
        definition_id = self._definition_to_start(conn, process_key, definition_id)
        definition = self.store.specs.get(conn, definition_id)
        if not definition.executable or definition.spec is None:
            raise BadRequest(f'Process {definition.key!r} is not executable (isExecutable="false")')
        require_may_start(actor, definition.key, definition.starter_groups, definition.starter_users)
        workflow = BpmnWorkflow(
            definition.spec, definition.subprocess_specs, script_engine=self.script_engine
        )
        now = self.clock.now()
        header = InstanceHeader(
            id=str(uuid.uuid4()),
            definition_id=definition.id,
            process_key=definition.key,
            business_key=business_key,
            status=RUNNING,
            suspended=False,
            incidents=0,
            version=0,
            history_seq=0,
            history_head="0" * 64,
            next_task_pos=0,
            started_at=now,
            started_by=actor.name,
        )
        live = LiveInstance(header, definition, workflow, open_rows=set(), subscriptions={})
        self.store.insert_new(conn, live)
        step = Step(conn, live, actor, now)
        initiator = initiator_variable(definition.spec)
        if initiator and initiator not in data:
            data = {**data, initiator: actor.name}  # camunda:initiator: who started the case
        start_task = workflow.task_tree
        start_task.data.update(data)
        for child in start_task.children:
            child.data.update(data)
        started: dict[str, Any] = {"variables": data, "definition_key": definition.key}
        if message:
            started["message"] = message
        step.record("instance_started", started)
        if message:
            self._catch_start_message(step, message, data)
        if prepare is not None:
            prepare(step)
        self.stepper.advance(step)
        self._save(step)
        self.store.cache.put(live)
        return header.id

    def _catch_start_message(self, step: Step, message: str, data: dict[str, Any]) -> None:
        """Start at the message start event only (see ``take_only_start_event``)."""
        workflow = step.live.workflow

        def by_this_message(task: SpiffTask) -> bool:
            definition = getattr(task.task_spec, "event_definition", None)
            return isinstance(definition, MessageEventDefinition) and definition.name == message

        try:
            take_only_start_event(workflow, by_this_message)
            workflow.send_event(message_event(workflow, message, data))
        except SpiffWorkflowException as exc:
            raise spiff_error(exc) from exc
        for task in tasks_in_state(workflow, TaskState.READY):
            task.data.update(data)

    @staticmethod
    def _definition_to_start(conn: Connection, process_key: str | None, definition_id: str | None) -> str:
        if definition_id:
            return definition_id
        if not process_key:
            raise ValidationError("Give a process key or a definition id to start")
        found = conn.execute(
            select(Definition.id)
            .where(Definition.key == process_key, Definition.executable.is_(True))
            .order_by(Definition.version.desc())
            .limit(1)
        ).scalar()
        if found is None:
            raise NotFound(f"No executable process definition with key {process_key!r}")
        return str(found)

    # -- user tasks --------------------------------------------------------------------------

    def complete_task(self, task_id: str, data: Mapping[str, Any] | None, actor: Actor) -> None:
        submitted = check_variables(data, "task data")
        with self.db.transaction() as conn:
            ref = self._user_task(conn, task_id)
            name = ref.name or task_id
            require_may_work_on(actor, name, ref.role, ref.assignee, ref.candidates, ref.groups)
            with self._instance(conn, ref.instance_id, actor) as step:
                self._require_running(step.live, "complete tasks")
                task = self._spiff_task(step.live, task_id)
                if task.state != TaskState.READY:
                    raise Conflict(f"Task {ref.name or task_id!r} is not ready (state {task.state_name})")
                form = step.live.definition.forms.get(ref.form_key) if ref.form_key else None
                cleaned = validate_submission(form, submitted, task.data) if form is not None else submitted
                changes = {
                    key: {"from": task.data.get(key), "to": value}
                    for key, value in cleaned.items()
                    if task.data.get(key) != value
                }
                task.data.update(cleaned)
                step.ended_by[task_id] = actor.name
                try:
                    task.run()
                except SpiffWorkflowException as exc:
                    raise spiff_error(exc) from exc
                step.record("task_completed", {"data": cleaned, "changes": changes}, task)
                self.stepper.advance(step)

    def claim(self, task_id: str, actor: Actor) -> None:
        with self.db.transaction() as conn:
            ref = self._user_task(conn, task_id)
            require_may_work_on(actor, ref.name or task_id, ref.role, None, ref.candidates, ref.groups)
            if ref.assignee and ref.assignee != actor.name:
                raise Conflict(f"Task {ref.name or task_id!r} is already claimed by {ref.assignee}")
            self._set_assignee(conn, ref, actor.name, actor, "task_claimed", {"assignee": actor.name})

    def unclaim(self, task_id: str, actor: Actor) -> None:
        with self.db.transaction() as conn:
            ref = self._user_task(conn, task_id)
            require_can_change(actor, "unclaim tasks")
            if ref.assignee is None:
                return
            if ref.assignee != actor.name and not actor.is_admin:
                raise Conflict(f"Task {ref.name or task_id!r} is claimed by {ref.assignee}, not {actor.name}")
            self._set_assignee(conn, ref, None, actor, "task_unclaimed", {"previous": ref.assignee})

    def assign(self, task_id: str, assignee: str | None, actor: Actor) -> None:
        with self.db.transaction() as conn:
            ref = self._user_task(conn, task_id)
            require_can_change(actor, "assign tasks")
            if not actor.is_admin and not _is_manager_of(actor, ref) and ref.assignee != actor.name:
                raise_forbidden(actor, "assign", ref)
            self._set_assignee(
                conn,
                ref,
                assignee or None,
                actor,
                "task_assigned",
                {"assignee": assignee, "previous": ref.assignee},
            )

    def delegate(self, task_id: str, to_user: str, actor: Actor) -> None:
        """Hand the task to someone else; its owner (whoever had it) keeps it in their sight."""
        if not to_user:
            raise ValidationError("Name the user to delegate to")
        with self.db.transaction() as conn:
            ref = self._user_task(conn, task_id)
            require_can_change(actor, "delegate tasks")
            if ref.assignee != actor.name and not actor.is_admin:
                raise_forbidden(actor, "delegate", ref)
            self._lock(conn, ref.instance_id, "delegate its tasks")
            # As in Camunda the one who had the task keeps it in sight (an admin delegating
            # someone's task is not its owner).
            owner = ref.owner or ref.assignee or actor.name
            conn.execute(
                update(TaskRow).where(TaskRow.id == task_id).values(assignee=to_user, owner=owner)
            )
            self._record_outside_step(conn, ref, actor, "task_delegated", {"to": to_user, "owner": owner})

    def _set_assignee(
        self,
        conn: Connection,
        ref: TaskRef,
        assignee: str | None,
        actor: Actor,
        event: str,
        data: dict[str, Any],
    ) -> None:
        self._lock(conn, ref.instance_id, "change who has its tasks")
        conn.execute(update(TaskRow).where(TaskRow.id == ref.id).values(assignee=assignee))
        self._record_outside_step(conn, ref, actor, event, data)

    def _lock(self, conn: Connection, instance_id: str, what: str) -> None:
        """Lock a running, active instance for a change to one of its task rows (who has the task)."""
        header = self.store.header(conn, instance_id, lock=True)
        if header.status != RUNNING:
            raise Conflict(f"Process instance {instance_id} is {header.status}")
        if header.suspended:
            # As Camunda: a suspended case's tasks are not claimed, handed on or completed.
            raise Conflict(f"Process instance {instance_id} is suspended; resume it to {what}")

    def _record_outside_step(
        self, conn: Connection, ref: TaskRef, actor: Actor, event: str, data: dict[str, Any]
    ) -> None:
        """An event that changes no workflow state (claims, assignments) still goes in the chain."""
        with self._instance(conn, ref.instance_id, actor) as step:
            step.live.events.append(_event(event, actor, data, ref.id, self._element_of(step.live, ref.id)))

    @staticmethod
    def _element_of(live: LiveInstance, task_id: str) -> str | None:
        task = live.workflow.get_task_from_id(UUID(task_id))
        return getattr(task.task_spec, "bpmn_id", None) if task is not None else None

    # -- instances ---------------------------------------------------------------------------

    def cancel(self, instance_id: str, actor: Actor, reason: str | None = None) -> None:
        require_can_change(actor, "cancel processes")
        with self.db.transaction() as conn, self._instance(conn, instance_id, actor) as step:
            if step.live.header.status != RUNNING:
                raise Conflict(f"Process instance {instance_id} is already {step.live.header.status}")
            step.live.workflow.cancel()
            step.live.header.status = CANCELLED
            step.live.ended_at = step.now
            step.record("instance_cancelled", {"reason": reason})
            self.stepper.sync(step)  # resolves the instance's open incidents too, each in the history

    def suspend(self, instance_id: str, actor: Actor) -> None:
        self._set_suspended(instance_id, actor, True)

    def resume(self, instance_id: str, actor: Actor) -> None:
        self._set_suspended(instance_id, actor, False)

    def _set_suspended(self, instance_id: str, actor: Actor, suspended: bool) -> None:
        require_can_change(actor, "suspend or resume processes")
        with self.db.transaction() as conn, self._instance(conn, instance_id, actor) as step:
            header = step.live.header
            if header.status != RUNNING:
                raise Conflict(f"Process instance {instance_id} is {header.status}")
            if header.suspended == suspended:
                raise Conflict(
                    f"Process instance {instance_id} is already {'suspended' if suspended else 'active'}"
                )
            header.suspended = suspended
            step.record("instance_suspended" if suspended else "instance_resumed", {})

    def change_variables(
        self,
        instance_id: str,
        actor: Actor,
        setting: Mapping[str, Any] | None = None,
        removing: Sequence[str] | None = None,
    ) -> VariableChange:
        """Set and remove a running case's variables (see engine/variables.py), recorded in its history."""
        require_may_manage_cases(actor, "change case variables")
        values = check_variables(setting)
        names = check_removals(removing, values)
        with self.db.transaction() as conn, self._instance(conn, instance_id, actor) as step:
            status = step.live.header.status
            if status != RUNNING:
                raise Conflict(f"Process instance {instance_id} is {status}; its variables are final")
            change = change_variables(step.live.workflow, values, names)
            if change.changed:  # a change no task's data shows (all already so) is not recorded
                step.record("variables_changed", change.as_event_data())
        return change

    def retry_incident(self, incident_id: str, actor: Actor) -> None:
        require_may_manage_cases(actor, "retry incidents")
        with self.db.transaction() as conn:
            row = conn.execute(select(Incident).where(Incident.id == incident_id)).first()
            if row is None:
                raise NotFound(f"No incident with id {incident_id!r}")
            if row.state != "open":
                raise Conflict(f"Incident {incident_id} is already {row.state}")
            with self._instance(conn, row.instance_id, actor) as step:
                self._require_running(step.live, "retry incidents")
                task = self._spiff_task(step.live, row.task_id)
                task.internal_data.pop(INCIDENT_MARK, None)
                conn.execute(
                    update(Incident)
                    .where(Incident.id == incident_id)
                    .values(state="resolved", resolved_at=step.now, resolved_by=actor.name)
                )
                step.live.header.incidents = max(0, step.live.header.incidents - 1)
                step.record("incident_resolved", {"incident_id": incident_id, "by": "retry"}, task)
                self.stepper.advance(step)

    # -- messages ----------------------------------------------------------------------------

    def correlate(
        self,
        name: str,
        *,
        actor: Actor,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        all_instances: bool = False,
    ) -> list[str]:
        """Deliver a message to the instance(s) waiting for it, or start a process with it."""
        require_can_change(actor, "correlate messages")
        data = check_variables(variables)
        with self.db.transaction() as conn:
            touched = self._deliver(
                conn, name, business_key, data, actor, hops=0, all_instances=all_instances
            )
        if not touched:
            raise NotFound(
                f"No instance waits for message {name!r}"
                + (f" with business key {business_key!r}" if business_key else "")
                + " and no process starts with it"
            )
        return touched

    def _deliver(
        self,
        conn: Connection,
        name: str,
        business_key: str | None,
        data: dict[str, Any],
        actor: Actor,
        *,
        hops: int,
        all_instances: bool = False,
    ) -> list[str]:
        if hops > MAX_MESSAGE_HOPS:
            raise Conflict(f"Message {name!r} bounced between instances more than {MAX_MESSAGE_HOPS} times")
        query = (
            select(Subscription.instance_id, Instance.suspended)
            .join(Instance, Instance.id == Subscription.instance_id)
            .where(Subscription.kind == "message", Subscription.name == name, Instance.status == RUNNING)
        )
        if business_key is not None:
            query = query.where(Subscription.business_key == business_key)
        rows = conn.execute(query.order_by(Subscription.id)).all()
        # As in Camunda, a suspended instance takes no part in correlation: the others still get it.
        waiting = list(dict.fromkeys(row.instance_id for row in rows if not row.suspended))
        if waiting:
            targets = waiting if all_instances else waiting[:1]
            for instance_id in targets:
                with self._instance(conn, instance_id, actor) as step:
                    self._require_running(step.live, "receive messages")
                    self._catch_message(step, name, data)
            return targets
        suspended = list(dict.fromkeys(row.instance_id for row in rows))
        if suspended:
            raise Conflict(
                f"Only suspended instances wait for message {name!r} ({', '.join(suspended)}); "
                "resume one to deliver it"
            )
        starters = self._definitions_started_by(conn, name)
        return [self._start(conn, actor, None, d, business_key, data, name) for d in starters]

    def _catch_message(self, step: Step, name: str, data: dict[str, Any]) -> None:
        workflow = step.live.workflow
        before = {t.id for t in workflow.get_tasks(state=TaskState.READY)}
        try:
            workflow.send_event(message_event(workflow, name, data))
        except SpiffWorkflowException as exc:
            raise spiff_error(exc) from exc
        for task in workflow.get_tasks(state=TaskState.READY):
            if task.id not in before:
                task.data.update(data)
        step.record("message_correlated", {"message": name, "variables": data})
        self.stepper.advance(step)

    @staticmethod
    def _definitions_started_by(conn: Connection, name: str) -> list[str]:
        latest: dict[str, tuple[int, str]] = {}
        rows = conn.execute(
            select(Definition.key, Definition.version, Definition.id, Definition.start_messages).where(
                Definition.executable.is_(True), Definition.start_messages.like(f'%"{name}"%')
            )
        )
        for row in rows:
            if name in json.loads(row.start_messages) and (
                row.key not in latest or latest[row.key][0] < row.version
            ):
                latest[row.key] = (row.version, row.id)
        return [definition_id for _version, definition_id in latest.values()]

    # -- external tasks (the worker side lives in the API; these are its engine commands) ----

    def complete_external(
        self, task_id: str, variables: Mapping[str, Any] | None, actor: Actor, worker_id: str | None = None
    ) -> None:
        require_can_change(actor, "complete external tasks")
        data = check_variables(variables)
        with self.db.transaction() as conn:
            ref = self._external_task(conn, task_id, worker_id)
            with self._instance(conn, ref.instance_id, actor) as step:
                self._require_running(step.live, "complete external tasks")
                task = self._spiff_task(step.live, task_id)
                step.ended_by[task_id] = actor.name
                self.stepper.complete_service_task(step, task, data)
                self.stepper.advance(step)

    def external_bpmn_error(
        self, task_id: str, signal: BpmnErrorSignal, actor: Actor, worker_id: str | None = None
    ) -> None:
        require_can_change(actor, "report BPMN errors of external tasks")
        check_variables(signal.variables, "error variables")
        with self.db.transaction() as conn:
            ref = self._external_task(conn, task_id, worker_id)
            with self._instance(conn, ref.instance_id, actor) as step:
                self._require_running(step.live, "handle BPMN errors")
                task = self._spiff_task(step.live, task_id)
                self.stepper.throw_error(step, task, signal)
                self.stepper.advance(step)

    def _external_task(self, conn: Connection, task_id: str, worker_id: str | None) -> TaskRef:
        """The open external task ``task_id``, checked against the worker that answers for it.

        The API checked the lock before this transaction; it is checked again here because
        the lock may have expired and been taken by another worker in between.
        """
        ref = self._task(conn, task_id)
        if ref.kind != "external":
            raise BadRequest(f"Task {task_id} is not an external task")
        if worker_id is not None and ref.worker_id not in (None, worker_id):
            raise Conflict(f"External task {task_id} is locked by worker {ref.worker_id}")
        return ref

    def now(self) -> datetime:
        return self.clock.now()


def take_only_start_event(workflow: BpmnWorkflow, chosen: Callable[[SpiffTask], bool]) -> list[SpiffTask]:
    """Bring a new instance up to its start events and cancel all but the chosen; returns those kept.

    SpiffWorkflow starts every start event of a process at once (a none start fires at once);
    an instance started by a message or by a timer must take that start event's path alone, as
    in Camunda.
    """
    for _ in range(MAX_START_STEPS):
        ready = [
            t for t in tasks_in_state(workflow, TaskState.READY) if not isinstance(t.task_spec, StartEvent)
        ]
        if not ready:
            break
        for task in ready:
            task.run()
    kept = []
    for task in tasks_in_state(workflow, TaskState.READY | TaskState.WAITING):
        if isinstance(task.task_spec, StartEvent):
            if chosen(task):
                kept.append(task)
            else:
                task.cancel()
    return kept


def message_event(workflow: BpmnWorkflow, name: str, data: dict[str, Any]) -> BpmnEvent:
    """An event carrying the diagram's own definition of message ``name``.

    SpiffWorkflow matches events by definition class and name; the diagram's definition
    (whatever class its parser made) is the one that matches.
    """
    specs = [workflow.spec, *workflow.subprocess_specs.values()]
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            # An event-based gateway holds the definitions of the events it waits for.
            for one in getattr(definition, "event_definitions", None) or [definition]:
                if isinstance(one, MessageEventDefinition) and one.name == name:
                    return BpmnEvent(one, payload=data)
    return BpmnEvent(MessageEventDefinition(name), payload=data)


def _variables(workflow: BpmnWorkflow) -> dict[str, Any]:
    last = workflow.last_task
    if last is None:
        return dict(workflow.task_tree.data)
    return dict(last.data)


def _event(event: str, actor: Actor, data: dict[str, Any], task_id: str, element_id: str | None) -> Any:
    from .history import NewEvent

    return NewEvent(event, actor.name, data, task_id=task_id, element_id=element_id)


def _is_manager_of(actor: Actor, ref: TaskRef) -> bool:
    """Managers may assign their team's tasks: a service manager or director assigns any task."""
    return bool({"service_manager", "director"} & actor.roles)


def raise_forbidden(actor: Actor, what: str, ref: TaskRef) -> None:
    from .errors import Forbidden

    raise Forbidden(f"{actor.name} may not {what} task {ref.name or ref.id!r}")
