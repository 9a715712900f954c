"""What Camunda calls history: process instances, the activities they passed, their user tasks.

Process instances and user tasks are rows. Activity history is not: Camunda reports every
flow node an instance entered (start events, gateways and end events too), which only the
instance's stored SpiffWorkflow tasks know, so it is read from them, one instance at a time,
with the user and external task rows supplying their exact start and end times.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import ColumnElement, Connection, Select, func, select

from .bpmn.elements import ProcessModel, ProcessModels
from .camunda_queries import TASK_COLUMNS, Sorting, TaskView, Window, like, millis, ordered, task_view, utc
from .clock import as_utc
from .db import Database
from .errors import NotFound, ValidationError
from .instance_store import CANCELLED, COMPLETED, RUNNING
from .models import Definition, HistoryEvent, Instance, TaskState
from .models import Task as TaskRow
from .queries import has_any_role


@dataclass
class InstanceView:
    id: str
    definition_id: str
    process_key: str
    definition_name: str | None
    definition_version: int
    business_key: str | None
    status: str
    suspended: bool
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    delete_reason: str | None = None
    start_activity_id: str | None = None

    @property
    def ended(self) -> bool:
        return self.status != RUNNING

    @property
    def state(self) -> str:
        """Camunda's name for where the instance stands."""
        if self.status == COMPLETED:
            return "COMPLETED"
        if self.status == CANCELLED:
            return "EXTERNALLY_TERMINATED"
        return "SUSPENDED" if self.suspended else "ACTIVE"

    @property
    def duration_ms(self) -> int | None:
        return millis(self.started_at, self.ended_at)


@dataclass
class HistoricTaskFilter:
    task_id: str | None = None
    instance_id: str | None = None
    business_key: str | None = None
    definition_id: str | None = None
    definition_key: str | None = None
    element_id: str | None = None
    name: str | None = None
    name_like: str | None = None
    assignee: str | None = None
    assignee_like: str | None = None
    owner: str | None = None
    priority: int | None = None
    assigned: bool = False
    unassigned: bool = False
    finished: bool = False
    unfinished: bool = False
    had_candidate_group: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    started_before: datetime | None = None
    started_after: datetime | None = None
    finished_before: datetime | None = None
    finished_after: datetime | None = None


HISTORIC_TASK_SORTS = {
    "taskId": TaskRow.id,
    "processDefinitionId": TaskRow.definition_id,
    "processInstanceId": TaskRow.instance_id,
    "executionId": TaskRow.instance_id,
    "endTime": TaskRow.ended_at,
    "startTime": TaskRow.created_at,
    "taskName": TaskRow.name,
    "taskDescription": TaskRow.documentation,
    "assignee": TaskRow.assignee,
    "owner": TaskRow.owner,
    "dueDate": TaskRow.due_at,
    "taskDefinitionKey": TaskRow.element_id,
    "priority": TaskRow.priority,
}


def _historic_task_conditions(f: HistoricTaskFilter) -> list[ColumnElement[bool]]:
    c: list[ColumnElement[bool]] = []
    equal: list[tuple[Any, Any]] = [
        (f.task_id, TaskRow.id),
        (f.instance_id, TaskRow.instance_id),
        (f.business_key, TaskRow.business_key),
        (f.definition_id, TaskRow.definition_id),
        (f.definition_key, TaskRow.process_key),
        (f.element_id, TaskRow.element_id),
        (f.name, TaskRow.name),
        (f.assignee, TaskRow.assignee),
        (f.owner, TaskRow.owner),
        (f.priority, TaskRow.priority),
    ]
    c.extend(column == value for value, column in equal if value is not None)
    if f.had_candidate_group is not None:
        c.append(has_any_role([f.had_candidate_group]))
    if f.name_like is not None:
        c.append(like(TaskRow.name, f.name_like))
    if f.assignee_like is not None:
        c.append(like(TaskRow.assignee, f.assignee_like))
    bounds: list[tuple[Any, Any, bool]] = [
        (f.due_before, TaskRow.due_at, True),
        (f.due_after, TaskRow.due_at, False),
        (f.started_before, TaskRow.created_at, True),
        (f.started_after, TaskRow.created_at, False),
        (f.finished_before, TaskRow.ended_at, True),
        (f.finished_after, TaskRow.ended_at, False),
    ]
    c.extend(
        (column <= value if upper else column >= value)
        for value, column, upper in bounds
        if value is not None
    )
    if f.assigned:
        c.append(TaskRow.assignee.is_not(None))
    if f.unassigned:
        c.append(TaskRow.assignee.is_(None))
    if f.finished:
        c.append(TaskRow.state != "open")
    if f.unfinished:
        c.append(TaskRow.state == "open")
    return c


@dataclass
class ActivityView:
    id: str
    parent_id: str
    activity_id: str
    activity_name: str | None
    activity_type: str
    instance_id: str
    definition_id: str
    process_key: str
    task_id: str | None
    assignee: str | None
    started_at: datetime | None
    ended_at: datetime | None
    canceled: bool
    complete_scope: bool
    position: int

    @property
    def duration_ms(self) -> int | None:
        return millis(self.started_at, self.ended_at)


@dataclass
class ActivityFilter:
    activity_instance_id: str | None = None
    instance_id: str | None = None
    definition_id: str | None = None
    activity_id: str | None = None
    activity_name: str | None = None
    activity_type: str | None = None
    task_assignee: str | None = None
    finished: bool = False
    unfinished: bool = False
    canceled: bool = False
    complete_scope: bool = False
    started_before: datetime | None = None
    started_after: datetime | None = None
    finished_before: datetime | None = None
    finished_after: datetime | None = None


def _key_of(value: Any) -> tuple[bool, Any]:
    # None sorts first, and values of one kind compare with each other only.
    return (value is not None, value if value is not None else 0)


ACTIVITY_SORTS: dict[str, Callable[[ActivityView], Any]] = {
    "activityInstanceId": lambda a: a.id,
    "instanceId": lambda a: a.instance_id,
    "executionId": lambda a: a.instance_id,
    "activityId": lambda a: a.activity_id,
    "activityName": lambda a: a.activity_name or "",
    "activityType": lambda a: a.activity_type,
    "startTime": lambda a: _key_of(a.started_at),
    "endTime": lambda a: _key_of(a.ended_at),
    "duration": lambda a: _key_of(a.duration_ms),
    "definitionId": lambda a: a.definition_id,
    "occurrence": lambda a: (a.instance_id, a.position),
    "tenantId": lambda a: a.id,
}


_FLOW_STATES = (
    SpiffState.WAITING | SpiffState.READY | SpiffState.STARTED | SpiffState.COMPLETED | SpiffState.ERROR
)
_FIRED_STATES = SpiffState.READY | SpiffState.STARTED | SpiffState.COMPLETED | SpiffState.ERROR
_FINISHED_STATES = SpiffState.COMPLETED | SpiffState.ERROR | SpiffState.CANCELLED
_MERGING_GATEWAYS = {"parallelGateway", "inclusiveGateway", "complexGateway"}
_SCOPE_ENDS = {
    "noneEndEvent",
    "errorEndEvent",
    "terminateEndEvent",
    "messageEndEvent",
    "signalEndEvent",
    "escalationEndEvent",
    "cancelEndEvent",
    "compensationEndEvent",
}


class CamundaHistory:
    def __init__(self, db: Database, models: ProcessModels | None = None) -> None:
        self.db = db
        self.models = models or ProcessModels()

    # instances

    def instance(self, instance_id: str) -> InstanceView:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(
                select(
                    Instance.id,
                    Instance.definition_id,
                    Instance.process_key,
                    Instance.business_key,
                    Instance.status,
                    Instance.suspended,
                    Instance.started_at,
                    Instance.started_by,
                    Instance.ended_at,
                    Definition.name,
                    Definition.version,
                )
                .join(Definition, Definition.id == Instance.definition_id)
                .where(Instance.id == instance_id)
            ).first()
            if row is None:
                raise NotFound(f"Historic process instance with id {instance_id} does not exist")
            view = InstanceView(
                id=row.id,
                definition_id=row.definition_id,
                process_key=row.process_key,
                definition_name=row.name,
                definition_version=row.version,
                business_key=row.business_key,
                status=row.status,
                suspended=bool(row.suspended),
                started_at=as_utc(row.started_at),
                started_by=row.started_by,
                ended_at=utc(row.ended_at),
            )
            if view.status == CANCELLED:
                data = conn.execute(
                    select(HistoryEvent.data)
                    .where(
                        HistoryEvent.chain == instance_id,  # an instance's events are its chain
                        HistoryEvent.event_type == "instance_cancelled",
                    )
                    .limit(1)
                ).scalar()
                view.delete_reason = (json.loads(data).get("reason") if data else None) or "cancelled"
            starts = [
                a
                for a in self._activities(conn, instance_id)
                if a.activity_type.endswith("StartEvent") or a.activity_type == "startEvent"
            ]
            view.start_activity_id = starts[0].activity_id if starts else None
        return view

    # activity history

    def activity_instances(
        self, f: ActivityFilter, sorting: Sequence[Sorting], window: Window
    ) -> list[ActivityView]:
        for sort in sorting:
            if sort.key not in ACTIVITY_SORTS:
                raise ValidationError(f"sortBy parameter has invalid value: {sort.key}")
        query = select(Instance.id).order_by(Instance.started_at, Instance.id)
        if f.instance_id is not None:
            query = query.where(Instance.id == f.instance_id)
        if f.definition_id is not None:
            query = query.where(Instance.definition_id == f.definition_id)
        found: list[ActivityView] = []
        with self.db.transaction(write=False) as conn:
            for instance_id in conn.execute(query).scalars():
                found.extend(a for a in self._activities(conn, instance_id) if _activity_matches(a, f))
        for sort in reversed(sorting):
            found.sort(key=ACTIVITY_SORTS[sort.key], reverse=sort.descending)
        return window.slice(found)

    def _activities(self, conn: Connection, instance_id: str) -> list[ActivityView]:
        header = conn.execute(
            select(Instance.definition_id, Instance.process_key).where(Instance.id == instance_id)
        ).first()
        if header is None:
            return []
        model = self.models.get(conn, header.definition_id)
        stored = conn.execute(
            select(TaskState.task_id, TaskState.workflow_id, TaskState.pos, TaskState.body)
            .where(TaskState.instance_id == instance_id)
            .order_by(TaskState.pos)
        )
        tasks = {row.task_id: (row.workflow_id, row.pos, json.loads(row.body)) for row in stored}
        rows = {
            row.id: row
            for row in conn.execute(
                select(
                    TaskRow.id, TaskRow.assignee, TaskRow.created_at, TaskRow.ended_at, TaskRow.kind
                ).where(TaskRow.instance_id == instance_id)
            )
        }
        reader = _ActivityReader(instance_id, header.definition_id, header.process_key, model, tasks, rows)
        return reader.read()

    # historic tasks

    def historic_tasks(
        self, f: HistoricTaskFilter, sorting: Sequence[Sorting], window: Window
    ) -> list[TaskView]:
        query: Select[Any] = (
            select(*TASK_COLUMNS)  # type: ignore[assignment]
            .join(Instance, Instance.id == TaskRow.instance_id)
            .where(TaskRow.kind == "user", *_historic_task_conditions(f))
        )
        query = ordered(query, HISTORIC_TASK_SORTS, sorting or [Sorting("startTime")], TaskRow.id)
        with self.db.transaction(write=False) as conn:
            return [task_view(row) for row in conn.execute(window.apply(query))]

    def count_historic_tasks(self, f: HistoricTaskFilter) -> int:
        query = select(func.count(TaskRow.id)).where(TaskRow.kind == "user", *_historic_task_conditions(f))
        with self.db.transaction(write=False) as conn:
            return int(conn.execute(query).scalar_one())


def _activity_matches(a: ActivityView, f: ActivityFilter) -> bool:
    equal = (
        (f.activity_instance_id, a.id),
        (f.activity_id, a.activity_id),
        (f.activity_name, a.activity_name),
        (f.activity_type, a.activity_type),
        (f.task_assignee, a.assignee),
    )
    if any(wanted is not None and wanted != value for wanted, value in equal):
        return False
    if (f.finished and a.ended_at is None) or (f.unfinished and a.ended_at is not None):
        return False
    if (f.canceled and not a.canceled) or (f.complete_scope and not a.complete_scope):
        return False
    bounds = (
        (f.started_before, a.started_at, True),
        (f.started_after, a.started_at, False),
        (f.finished_before, a.ended_at, True),
        (f.finished_after, a.ended_at, False),
    )
    for limit, value, upper in bounds:
        if limit is not None and (value is None or (value > limit if upper else value < limit)):
            return False
    return True


@dataclass
class _ActivityReader:
    """Turns one instance's stored SpiffWorkflow tasks into Camunda activity instances."""

    instance_id: str
    definition_id: str
    process_key: str
    model: ProcessModel
    # task id → (owning sub-workflow's task id or None, position, stored task dict)
    tasks: dict[str, tuple[str | None, int, dict[str, Any]]]
    rows: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)

    def read(self) -> list[ActivityView]:
        found = []
        for task_id, (workflow_id, pos, body) in self.tasks.items():
            view = self._view(task_id, workflow_id, pos, body)
            if view is not None:
                found.append(view)
        return found

    def _activity(self, spec_name: str) -> tuple[str, str | None, str] | None:
        """(activity id, name, type) for a task spec name, or None for SpiffWorkflow's own tasks."""
        child = spec_name.endswith(" [child]")
        element_id = spec_name[: -len(" [child]")] if child else spec_name
        node = self.model.node(element_id)
        if node is None:
            return None
        if node.multi_instance and not child:
            return f"{element_id}#multiInstanceBody", node.name, "multiInstanceBody"
        return element_id, node.name, node.activity_type

    def _view(
        self, task_id: str, workflow_id: str | None, pos: int, body: dict[str, Any]
    ) -> ActivityView | None:
        activity = self._activity(body["task_spec"])
        if activity is None:
            return None
        activity_id, name, kind = activity
        state = int(body["state"])
        parent = self.tasks.get(body.get("parent") or "")
        parent_body = parent[2] if parent is not None else None
        if not self._reached(state, kind, parent_body):
            return None
        # SpiffWorkflow stamps every change of state: a task starts when the one before it finishes.
        started = _stamp((parent_body or body)["last_state_change"])
        ended = _stamp(body["last_state_change"]) if state & _FINISHED_STATES else None
        row = self.rows.get(task_id)
        return ActivityView(
            id=f"{activity_id}:{task_id}",
            parent_id=self._scope_id(workflow_id),
            activity_id=activity_id,
            activity_name=name,
            activity_type=kind,
            instance_id=self.instance_id,
            definition_id=self.definition_id,
            process_key=self.process_key,
            task_id=task_id if kind == "userTask" else None,
            assignee=row.assignee if row is not None and kind == "userTask" else None,
            started_at=started,
            ended_at=ended,
            # A token arriving at a join after another went on was merged, not cancelled.
            canceled=bool(state & SpiffState.CANCELLED) and kind not in _MERGING_GATEWAYS,
            complete_scope=kind in _SCOPE_ENDS and bool(state & SpiffState.COMPLETED),
            position=pos,
        )

    def _reached(self, state: int, kind: str, parent: dict[str, Any] | None) -> bool:
        """Did the instance ever enter this flow node (rather than predict or skip it)?"""
        parent_kind = None
        if parent is not None:
            found = self._activity(parent["task_spec"])
            parent_kind = found[2] if found else None
        # Boundary events and the events after an event-based gateway exist as activities only once fired.
        if kind.startswith("boundary") or kind == "cancelBoundaryCatch" or parent_kind == "eventBasedGateway":
            return bool(state & _FIRED_STATES)
        if state & _FLOW_STATES:
            return True
        # Cancelled: only if it had been entered, i.e. the task before it had finished.
        return (
            bool(state & SpiffState.CANCELLED)
            and parent is not None
            and bool(int(parent["state"]) & SpiffState.COMPLETED)
        )

    def _scope_id(self, workflow_id: str | None) -> str:
        if workflow_id is None:
            return self.instance_id
        owner = self.tasks.get(workflow_id)
        if owner is None:
            return self.instance_id
        activity = self._activity(owner[2]["task_spec"])
        return f"{activity[0]}:{workflow_id}" if activity else self.instance_id


def _stamp(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), UTC)
