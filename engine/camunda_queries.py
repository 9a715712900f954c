"""Read side of the Camunda 7 compatible API: deployments, process definitions, open user tasks.

The filters and sort keys are the ones Camunda's REST API offers (sort keys carry Camunda's
names), as indexed queries over the engine's rows. ``camunda_history`` builds on this for
what Camunda calls history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, or_, select

from .bpmn.elements import ProcessModel, ProcessModels
from .clock import as_utc
from .db import Database
from .errors import NotFound, ValidationError
from .models import Definition, Deployment, Instance
from .models import Task as TaskRow
from .queries import has_any_role, listed_in

MAX_RESULTS = 10_000


@dataclass(frozen=True)
class Sorting:
    key: str
    descending: bool = False


@dataclass(frozen=True)
class Window:
    """Camunda's ``firstResult``/``maxResults`` (maxResults 0 is a valid, empty page)."""

    first: int = 0
    size: int | None = None

    def __post_init__(self) -> None:
        if self.first < 0:
            raise ValidationError("firstResult must be 0 or more")
        if self.size is not None and not 0 <= self.size <= MAX_RESULTS:
            raise ValidationError(f"maxResults must be from 0 to {MAX_RESULTS}")

    @property
    def limit(self) -> int:
        return MAX_RESULTS if self.size is None else self.size

    def apply(self, query: Select[Any]) -> Select[Any]:
        return query.offset(self.first).limit(self.limit)

    def slice(self, items: list[Any]) -> list[Any]:
        return items[self.first : self.first + self.limit]


def ordered(query: Select[Any], columns: dict[str, Any], sorting: Sequence[Sorting], tie: Any) -> Select[Any]:
    order = []
    for sort in sorting:
        column = columns.get(sort.key)
        if column is None:
            raise ValidationError(f"sortBy parameter has invalid value: {sort.key}")
        order.append(column.desc() if sort.descending else column.asc())
    return query.order_by(*order, tie)


def like(column: Any, pattern: str) -> ColumnElement[bool]:
    """Camunda's ``…Like`` filters: the value may hold ``%`` wildcards, else it is a substring."""
    return column.like(pattern if "%" in pattern else f"%{pattern}%")


def utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def millis(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


# -- deployments and definitions --------------------------------------------------------------


@dataclass
class DeploymentFilter:
    id: str | None = None
    name: str | None = None
    name_like: str | None = None
    source: str | None = None
    without_source: bool = False
    after: datetime | None = None
    before: datetime | None = None
    tenant_ids: list[str] | None = None


DEPLOYMENT_SORTS = {
    "id": Deployment.id,
    "name": Deployment.name,
    "deploymentTime": Deployment.deployed_at,
    "tenantId": Deployment.id,
}


@dataclass
class DefinitionFilter:
    id: str | None = None
    ids: list[str] | None = None
    name: str | None = None
    name_like: str | None = None
    deployment_id: str | None = None
    key: str | None = None
    keys: list[str] | None = None
    key_like: str | None = None
    version: int | None = None
    latest_only: bool = False
    resource_name: str | None = None
    resource_name_like: str | None = None
    version_tag: str | None = None
    tenant_ids: list[str] | None = None
    suspended_only: bool = False


DEFINITION_SORTS = {
    "key": Definition.key,
    "id": Definition.id,
    "name": Definition.name,
    "version": Definition.version,
    "deploymentId": Definition.deployment_id,
    "deployTime": Definition.deployed_at,
    "tenantId": Definition.id,
}


@dataclass
class DefinitionView:
    id: str
    key: str
    name: str | None
    version: int
    resource_name: str
    deployment_id: str
    deployed_at: datetime
    documentation: str | None
    executable: bool
    model: ProcessModel


# -- tasks --------------------------------------------------------------------------------------


@dataclass
class TaskFilter:
    task_ids: list[str] | None = None
    instance_ids: list[str] | None = None
    business_key: str | None = None
    business_key_like: str | None = None
    definition_ids: list[str] | None = None
    definition_keys: list[str] | None = None
    element_ids: list[str] | None = None
    name: str | None = None
    name_like: str | None = None
    assignee: str | None = None
    assignee_like: str | None = None
    assignees: list[str] | None = None
    owner: str | None = None
    assigned: bool = False
    unassigned: bool = False
    candidate_groups: list[str] | None = None
    candidate_user: str | None = None
    include_assigned: bool = False
    due_before: datetime | None = None
    due_after: datetime | None = None
    due_date: datetime | None = None
    without_due_date: bool = False
    created_before: datetime | None = None
    created_after: datetime | None = None
    created_on: datetime | None = None
    priority: int | None = None
    min_priority: int | None = None
    max_priority: int | None = None
    active: bool = False
    suspended: bool = False


TASK_SORTS = {
    "instanceId": TaskRow.instance_id,
    "dueDate": TaskRow.due_at,
    "executionId": TaskRow.instance_id,
    "assignee": TaskRow.assignee,
    "created": TaskRow.created_at,
    "description": TaskRow.documentation,
    "id": TaskRow.id,
    "name": TaskRow.name,
    "nameCaseInsensitive": func.lower(TaskRow.name),
    "priority": TaskRow.priority,
}


@dataclass
class TaskView:
    id: str
    name: str | None
    element_id: str
    instance_id: str
    definition_id: str
    process_key: str
    business_key: str | None
    role: str | None
    assignee: str | None
    owner: str | None
    created_at: datetime
    due_at: datetime | None
    ended_at: datetime | None
    state: str
    priority: int
    documentation: str | None
    form_key: str | None
    suspended: bool


def _task_conditions(f: TaskFilter) -> list[ColumnElement[bool]]:
    c: list[ColumnElement[bool]] = []
    pairs: list[tuple[Any, Any]] = [
        (f.task_ids, TaskRow.id),
        (f.instance_ids, TaskRow.instance_id),
        (f.definition_ids, TaskRow.definition_id),
        (f.definition_keys, TaskRow.process_key),
        (f.element_ids, TaskRow.element_id),
        (f.assignees, TaskRow.assignee),
    ]
    c.extend(column.in_(values) for values, column in pairs if values is not None)
    equal: list[tuple[Any, Any]] = [
        (f.business_key, TaskRow.business_key),
        (f.name, TaskRow.name),
        (f.assignee, TaskRow.assignee),
        (f.owner, TaskRow.owner),
        (f.priority, TaskRow.priority),
        (f.due_date, TaskRow.due_at),
    ]
    c.extend(column == value for value, column in equal if value is not None)
    likes: list[tuple[Any, Any]] = [
        (f.business_key_like, TaskRow.business_key),
        (f.name_like, TaskRow.name),
        (f.assignee_like, TaskRow.assignee),
    ]
    c.extend(like(column, value) for value, column in likes if value is not None)
    bounds: list[tuple[Any, Any, bool]] = [
        (f.due_before, TaskRow.due_at, True),
        (f.due_after, TaskRow.due_at, False),
        (f.created_before, TaskRow.created_at, True),
        (f.created_after, TaskRow.created_at, False),
        (f.max_priority, TaskRow.priority, True),
        (f.min_priority, TaskRow.priority, False),
    ]
    c.extend(
        (column <= value if upper else column >= value)
        for value, column, upper in bounds
        if value is not None
    )
    if f.created_on is not None:
        c.append(TaskRow.created_at == f.created_on)
    if f.assigned:
        c.append(TaskRow.assignee.is_not(None))
    if f.unassigned:
        c.append(TaskRow.assignee.is_(None))
    if f.without_due_date:
        c.append(TaskRow.due_at.is_(None))
    candidates: list[ColumnElement[bool]] = []
    if f.candidate_groups is not None:
        candidates.append(has_any_role(f.candidate_groups))
    if f.candidate_user is not None:
        candidates.append(listed_in(TaskRow.candidate_users, f.candidate_user))
    if candidates:
        c.append(or_(*candidates))
        # As in Camunda, a candidate query finds only tasks nobody has taken, unless asked otherwise.
        if not f.include_assigned:
            c.append(TaskRow.assignee.is_(None))
    if f.active:
        c.append(Instance.suspended.is_(False))
    if f.suspended:
        c.append(Instance.suspended.is_(True))
    return c


TASK_COLUMNS = (
    TaskRow.id,
    TaskRow.name,
    TaskRow.element_id,
    TaskRow.instance_id,
    TaskRow.definition_id,
    TaskRow.process_key,
    TaskRow.business_key,
    TaskRow.role,
    TaskRow.assignee,
    TaskRow.owner,
    TaskRow.created_at,
    TaskRow.due_at,
    TaskRow.ended_at,
    TaskRow.state,
    TaskRow.priority,
    TaskRow.documentation,
    TaskRow.form_key,
    Instance.suspended,
)


def task_view(row: Any) -> TaskView:
    return TaskView(
        id=row.id,
        name=row.name,
        element_id=row.element_id,
        instance_id=row.instance_id,
        definition_id=row.definition_id,
        process_key=row.process_key,
        business_key=row.business_key,
        role=row.role,
        assignee=row.assignee,
        owner=row.owner,
        created_at=as_utc(row.created_at),
        due_at=utc(row.due_at),
        ended_at=utc(row.ended_at),
        state=row.state,
        priority=row.priority,
        documentation=row.documentation,
        form_key=row.form_key,
        suspended=bool(row.suspended),
    )


@dataclass
class InstanceState:
    """A process instance as Camunda's runtime API shows it."""

    id: str
    definition_id: str
    business_key: str | None
    status: str
    suspended: bool
    variables: dict[str, Any]


# -- the queries ------------------------------------------------------------------------------


class CamundaQueries:
    def __init__(self, db: Database, models: ProcessModels | None = None) -> None:
        self.db = db
        self.models = models or ProcessModels()

    # deployments

    def deployments(self, f: DeploymentFilter, sorting: Sequence[Sorting], window: Window) -> list[Any]:
        query = select(Deployment)
        conditions: list[ColumnElement[bool]] = []
        if f.id is not None:
            conditions.append(Deployment.id == f.id)
        if f.name is not None:
            conditions.append(Deployment.name == f.name)
        if f.name_like is not None:
            conditions.append(like(Deployment.name, f.name_like))
        if f.source is not None:
            conditions.append(Deployment.source == f.source)
        if f.without_source:
            conditions.append(Deployment.source.is_(None))
        if f.after is not None:
            conditions.append(Deployment.deployed_at > f.after)
        if f.before is not None:
            conditions.append(Deployment.deployed_at < f.before)
        if f.tenant_ids:
            conditions.append(Deployment.id.is_(None))  # no tenants here: nothing belongs to one
        query = ordered(query.where(*conditions), DEPLOYMENT_SORTS, sorting, Deployment.id)
        with self.db.transaction(write=False) as conn:
            return list(conn.execute(window.apply(query)))

    def deployment(self, deployment_id: str) -> Any:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(select(Deployment).where(Deployment.id == deployment_id)).first()
        if row is None:
            raise NotFound(f"Deployment with id '{deployment_id}' does not exist")
        return row

    # definitions

    def _definition_query(self, f: DefinitionFilter) -> Select[Any]:
        query = select(Definition)
        c: list[ColumnElement[bool]] = []
        equal: list[tuple[Any, Any]] = [
            (f.id, Definition.id),
            (f.name, Definition.name),
            (f.deployment_id, Definition.deployment_id),
            (f.key, Definition.key),
            (f.version, Definition.version),
            (f.resource_name, Definition.resource_name),
        ]
        c.extend(column == value for value, column in equal if value is not None)
        if f.ids is not None:
            c.append(Definition.id.in_(f.ids))
        if f.keys is not None:
            c.append(Definition.key.in_(f.keys))
        for value, column in (
            (f.name_like, Definition.name),
            (f.key_like, Definition.key),
            (f.resource_name_like, Definition.resource_name),
        ):
            if value is not None:
                c.append(like(column, value))
        if f.tenant_ids or f.suspended_only:
            c.append(Definition.id.is_(None))  # no tenants, and definitions are never suspended here
        if f.latest_only:
            latest = (
                select(Definition.key, func.max(Definition.version).label("v"))
                .group_by(Definition.key)
                .subquery()
            )
            query = query.join(latest, (latest.c.key == Definition.key) & (latest.c.v == Definition.version))
        return query.where(*c)

    def definitions(
        self, f: DefinitionFilter, sorting: Sequence[Sorting], window: Window
    ) -> list[DefinitionView]:
        query = ordered(self._definition_query(f), DEFINITION_SORTS, sorting, Definition.id)
        with self.db.transaction(write=False) as conn:
            # The version tag lives in the XML; filtering by it needs the parsed models.
            if f.version_tag is None:
                return [self._definition_view(conn, row) for row in conn.execute(window.apply(query))]
            views = [self._definition_view(conn, row) for row in conn.execute(query)]
        return window.slice([v for v in views if v.model.version_tag == f.version_tag])

    def count_definitions(self, f: DefinitionFilter) -> int:
        if f.version_tag is not None:
            return len(self.definitions(f, (), Window()))
        with self.db.transaction(write=False) as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(self._definition_query(f).subquery())
                ).scalar_one()
            )

    def definition(self, definition_id: str) -> DefinitionView:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(select(Definition).where(Definition.id == definition_id)).first()
            if row is None:
                raise NotFound(f"No matching definition with id {definition_id}")
            return self._definition_view(conn, row)

    def latest_definition(self, key: str) -> DefinitionView:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(
                select(Definition).where(Definition.key == key).order_by(Definition.version.desc()).limit(1)
            ).first()
            if row is None:
                raise NotFound(f"No matching process definition with key: {key} and no tenant-id")
            return self._definition_view(conn, row)

    def definitions_by_ids(self, ids: Iterable[str]) -> list[DefinitionView]:
        wanted = list(ids)
        if not wanted:
            return []
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(select(Definition).where(Definition.id.in_(wanted)))
            views = {row.id: self._definition_view(conn, row) for row in rows}
        return [views[i] for i in wanted if i in views]

    def definition_xml(self, definition_id: str) -> str:
        with self.db.transaction(write=False) as conn:
            xml = conn.execute(select(Definition.bpmn_xml).where(Definition.id == definition_id)).scalar()
        if xml is None:
            raise NotFound(f"No matching definition with id {definition_id}")
        return str(xml)

    def _definition_view(self, conn: Connection, row: Any) -> DefinitionView:
        return DefinitionView(
            id=row.id,
            key=row.key,
            name=row.name,
            version=row.version,
            resource_name=row.resource_name,
            deployment_id=row.deployment_id,
            deployed_at=as_utc(row.deployed_at),
            documentation=row.documentation,
            executable=row.executable,
            model=self.models.get(conn, row.id),
        )

    # tasks

    def _task_query(self, f: TaskFilter, columns: Sequence[Any]) -> Select[Any]:
        return (
            select(*columns)
            .join(Instance, Instance.id == TaskRow.instance_id)
            .where(TaskRow.state == "open", TaskRow.kind == "user", *_task_conditions(f))
        )

    def tasks(self, f: TaskFilter, sorting: Sequence[Sorting], window: Window) -> list[TaskView]:
        query = ordered(
            self._task_query(f, TASK_COLUMNS), TASK_SORTS, sorting or [Sorting("created")], TaskRow.id
        )
        with self.db.transaction(write=False) as conn:
            return [task_view(row) for row in conn.execute(window.apply(query))]

    def count_tasks(self, f: TaskFilter) -> int:
        with self.db.transaction(write=False) as conn:
            return int(conn.execute(self._task_query(f, [func.count(TaskRow.id)])).scalar_one())

    def task(self, task_id: str) -> TaskView:
        found = self.tasks(TaskFilter(task_ids=[task_id]), (), Window())
        if not found:
            raise NotFound(f"No matching task with id {task_id}")
        return found[0]

    # instances

    def instance_state(self, instance_id: str) -> InstanceState:
        query = select(
            Instance.id,
            Instance.definition_id,
            Instance.business_key,
            Instance.status,
            Instance.suspended,
            Instance.variables,
        ).where(Instance.id == instance_id)
        with self.db.transaction(write=False) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"Process instance with id {instance_id} does not exist")
        return InstanceState(
            row.id,
            row.definition_id,
            row.business_key,
            row.status,
            bool(row.suspended),
            json.loads(row.variables),
        )
