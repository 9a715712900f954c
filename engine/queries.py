"""Read-side queries: definitions, tasks, instances, incidents and history, as plain dicts.

All of them are indexed queries over rows; none deserializes a workflow.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Select,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased

from .actors import comma_list
from .clock import as_utc
from .db import Database
from .errors import NotFound, ValidationError
from .forms import Form, form_summary
from .history import ChainBreak, verify
from .models import Definition, HistoryEvent, Incident, Instance
from .models import Task as TaskRow
from .paging import Page, PageRequest, SortKey, fetch_page
from .spec_cache import SpecCache
from .sql_text import holds_text

MAX_PAGE = 1000


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def definition_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "version": row.version,
        "name": row.name,
        "resource": row.resource_name,
        "deployment_id": row.deployment_id,
        "executable": row.executable,
        "deployed_at": _iso(row.deployed_at),
    }


def task_dict(row: Any, now: datetime | None = None) -> dict[str, Any]:
    data = {
        "id": row.id,
        "name": row.name,
        "element_id": row.element_id,
        "kind": row.kind,
        "state": row.state,
        "instance_id": row.instance_id,
        "definition_id": row.definition_id,
        "process_key": row.process_key,
        "business_key": row.business_key,
        "role": row.role,
        "candidate_groups": comma_list(row.candidate_groups),
        "candidate_users": comma_list(row.candidate_users),
        "assignee": row.assignee,
        "owner": row.owner,
        "form_key": row.form_key,
        "priority": row.priority,
        "created_at": _iso(row.created_at),
        "due_at": _iso(row.due_at),
        "ended_at": _iso(row.ended_at),
        "ended_by": row.ended_by,
        "topic": row.topic,
        "documentation": row.documentation,
    }
    if now is not None and row.due_at is not None and row.state == "open":
        data["seconds_left"] = int((as_utc(row.due_at) - now).total_seconds())
    return data


def instance_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "definition_id": row.definition_id,
        "process_key": row.process_key,
        "business_key": row.business_key,
        "status": row.status,
        "suspended": row.suspended,
        "incidents": row.incidents,
        "started_at": _iso(row.started_at),
        "started_by": row.started_by,
        "ended_at": _iso(row.ended_at),
        "version": row.version,
    }


def event_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "type": row.event_type,
        "actor": row.actor,
        "at": _iso(row.at),
        "instance_id": row.instance_id,
        "business_key": row.business_key,
        "definition_id": row.definition_id,
        "definition_version": row.definition_version,
        "task_id": row.task_id,
        "element_id": row.element_id,
        "data": json.loads(row.data),
        "hash": row.hash,
    }


def incident_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "task_id": row.task_id,
        "element_id": row.element_id,
        "handler": row.handler,
        "message": row.message,
        "attempts": row.attempts,
        "state": row.state,
        "created_at": _iso(row.created_at),
        "resolved_at": _iso(row.resolved_at),
        "resolved_by": row.resolved_by,
    }


def _page(query: Select[Any], offset: int, limit: int) -> Select[Any]:
    if offset < 0 or limit < 1:
        raise ValidationError("offset must be ≥ 0 and limit ≥ 1")
    return query.offset(offset).limit(min(limit, MAX_PAGE))


# -- filters and sort orders of the paged lists (the API's; the plain methods keep theirs) ------

TASK_SORT = {
    "priority": TaskRow.priority,
    "due_at": TaskRow.due_at,
    "created_at": TaskRow.created_at,
    "name": TaskRow.name,
    "process_key": TaskRow.process_key,
}
TASK_DEFAULT_SORT = (SortKey("priority", True), SortKey("created_at"))
INSTANCE_SORT = {
    "started_at": Instance.started_at,
    "ended_at": Instance.ended_at,
    "process_key": Instance.process_key,
    "business_key": Instance.business_key,
    "status": Instance.status,
}
INSTANCE_DEFAULT_SORT = (SortKey("started_at", True),)
HISTORY_SORT = {"at": HistoryEvent.at, "actor": HistoryEvent.actor, "type": HistoryEvent.event_type}
HISTORY_DEFAULT_SORT = (SortKey("at"),)
DEFINITION_SORT = {
    "key": Definition.key,
    "version": Definition.version,
    "deployed_at": Definition.deployed_at,
}
DEFINITION_DEFAULT_SORT = (SortKey("key"), SortKey("version"))
INCIDENT_SORT = {"created_at": Incident.created_at, "element_id": Incident.element_id}
INCIDENT_DEFAULT_SORT = (SortKey("created_at"),)


@dataclass(frozen=True)
class TaskFilter:
    """Which task rows a list shows; ``claimable_by`` = (user, roles): unassigned tasks they may take."""

    role: str | None = None
    roles: tuple[str, ...] | None = None
    assignee: str | None = None
    unassigned: bool = False
    claimable_by: tuple[str, tuple[str, ...]] | None = None
    # (user, roles): assigned to them, or unassigned and theirs to take.
    inbox_of: tuple[str, tuple[str, ...]] | None = None
    instance_id: str | None = None
    process_key: str | None = None
    business_key: str | None = None
    kind: str | None = "user"
    state: str | None = "open"
    due_before: datetime | None = None
    min_priority: int | None = None

    def query(self) -> Select:
        equal = (
            (TaskRow.state, self.state),
            (TaskRow.kind, self.kind),
            (TaskRow.role, self.role),
            (TaskRow.assignee, self.assignee),
            (TaskRow.instance_id, self.instance_id),
            (TaskRow.process_key, self.process_key),
            (TaskRow.business_key, self.business_key),
        )
        query = select(TaskRow).where(*(column == value for column, value in equal if value is not None))
        if self.roles is not None:
            query = query.where(or_(has_any_role(self.roles), TaskRow.role.is_(None)))
        if self.unassigned:
            query = query.where(TaskRow.assignee.is_(None))
        if self.claimable_by is not None:
            query = query.where(TaskRow.assignee.is_(None), _may_take(*self.claimable_by))
        if self.inbox_of is not None:
            user, roles = self.inbox_of
            query = query.where(
                or_(TaskRow.assignee == user, and_(TaskRow.assignee.is_(None), _may_take(user, roles)))
            )
        if self.due_before is not None:
            query = query.where(TaskRow.due_at <= self.due_before)
        if self.min_priority is not None:
            query = query.where(TaskRow.priority >= self.min_priority)
        return query


def listed_in(column: Any, name: str) -> Any:
    """SQL: the comma-separated ``column`` (candidate users or groups) names ``name``."""
    listed = literal(",") + func.coalesce(column, "") + literal(",")
    return holds_text(listed, f",{name},")


def has_any_role(roles: Iterable[str]) -> Any:
    """SQL: the task's role, or one of its candidate groups, is one of ``roles``."""
    # Equalities rather than IN: an expanding IN is re-rendered on every execution, and a
    # person holds a handful of roles.
    return or_(
        false(),
        *(TaskRow.role == role for role in roles),
        *(listed_in(TaskRow.candidate_groups, role) for role in roles),
    )


def _may_take(user: str, roles: tuple[str, ...]) -> Any:
    """The SQL form of ``actors.may_work_on`` for an unassigned task."""
    return or_(
        and_(TaskRow.role.is_(None), func.coalesce(TaskRow.candidate_users, "") == ""),
        has_any_role(roles),
        listed_in(TaskRow.candidate_users, user),
    )


@dataclass(frozen=True)
class InstanceFilter:
    process_key: str | None = None
    status: str | None = None
    business_key: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    suspended: bool | None = None
    with_incidents: bool | None = None
    # (name, value) pairs: top-level variables whose value, as text, is the one given.
    variables: tuple[tuple[str, str], ...] = ()

    def query(self, sqlite: bool = False) -> Select:
        equal = (
            (Instance.process_key, self.process_key),
            (Instance.status, self.status),
            (Instance.business_key, self.business_key),
        )
        query = select(Instance).where(*(column == value for column, value in equal if value is not None))
        if self.started_after is not None:
            query = query.where(Instance.started_at >= self.started_after)
        if self.started_before is not None:
            query = query.where(Instance.started_at < self.started_before)
        if self.suspended is not None:
            query = query.where(Instance.suspended.is_(self.suspended))
        if self.with_incidents is not None:
            query = query.where(Instance.incidents > 0 if self.with_incidents else Instance.incidents == 0)
        for name, value in self.variables:
            query = query.where(_variable_text(name, sqlite) == value)
        return query


def _variable_text(name: str, sqlite: bool) -> Any:
    """A top-level variable of the instance's last data, as text (numbers too), in SQL.

    Not indexed: the lists it filters are paged, and the variables column stays plain text
    so that both stores read it alike.
    """
    if sqlite:
        return type_coerce(Instance.variables, JSON)[name].as_string()
    return cast(Instance.variables, JSONB)[name].astext


@dataclass(frozen=True)
class HistoryFilter:
    instance_id: str | None = None
    business_key: str | None = None
    actor: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    chain: str | None = None

    def query(self) -> Select:
        equal = (
            (HistoryEvent.instance_id, self.instance_id),
            (HistoryEvent.business_key, self.business_key),
            (HistoryEvent.actor, self.actor),
            (HistoryEvent.event_type, self.event_type),
            (HistoryEvent.chain, self.chain),
        )
        query = select(HistoryEvent).where(*(column == value for column, value in equal if value is not None))
        if self.instance_id is not None:
            # An instance's events are its chain: the (chain, seq) key is the index that finds them.
            query = query.where(HistoryEvent.chain == self.instance_id)
        if self.since is not None:
            query = query.where(HistoryEvent.at >= self.since)
        if self.until is not None:
            query = query.where(HistoryEvent.at < self.until)
        return query


def _latest_versions(query: Select) -> Select:
    newer = aliased(Definition)
    return query.where(
        ~select(newer.id)
        .where(and_(newer.key == Definition.key, newer.version > Definition.version))
        .exists()
    )


# Built once: the API shows a case or a task after nearly every command.
_INSTANCE_BY_ID = select(Instance).where(Instance.id == bindparam("instance_id"))
_OPEN_TASKS_OF_INSTANCE = (
    select(TaskRow)
    .where(TaskRow.instance_id == bindparam("instance_id"), TaskRow.state == "open")
    .order_by(TaskRow.created_at)
)
_OPEN_INCIDENTS_OF_INSTANCE = select(Incident).where(
    Incident.instance_id == bindparam("instance_id"), Incident.state == "open"
)
_TASK_BY_ID = select(TaskRow).where(TaskRow.id == bindparam("task_id"))


class Queries:
    def __init__(self, db: Database, specs: SpecCache) -> None:
        self.db = db
        self.specs = specs

    def definitions(self, key: str | None = None, latest_only: bool = False) -> list[dict[str, Any]]:
        query = select(Definition).order_by(Definition.key, Definition.version)
        if key is not None:
            query = query.where(Definition.key == key)
        with self.db.transaction(write=False) as conn:
            rows = list(conn.execute(query))
        if latest_only:
            latest: dict[str, Any] = {}
            for row in rows:
                latest[row.key] = row
            rows = list(latest.values())
        return [definition_dict(r) for r in rows]

    def definition(self, definition_id: str) -> dict[str, Any]:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(select(Definition).where(Definition.id == definition_id)).first()
        if row is None:
            raise NotFound(f"No process definition with id {definition_id!r}")
        return definition_dict(row)

    def definition_xml(self, definition_id: str) -> str:
        with self.db.transaction(write=False) as conn:
            xml = conn.execute(select(Definition.bpmn_xml).where(Definition.id == definition_id)).scalar()
        if xml is None:
            raise NotFound(f"No process definition with id {definition_id!r}")
        return str(xml)

    def tasks(
        self,
        *,
        role: str | None = None,
        roles: list[str] | None = None,
        assignee: str | None = None,
        unassigned: bool = False,
        instance_id: str | None = None,
        process_key: str | None = None,
        business_key: str | None = None,
        kind: str | None = "user",
        state: str = "open",
        due_before: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
        now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        query = TaskFilter(
            role=role,
            roles=tuple(roles) if roles is not None else None,
            assignee=assignee,
            unassigned=unassigned,
            instance_id=instance_id,
            process_key=process_key,
            business_key=business_key,
            kind=kind,
            state=state,
            due_before=due_before,
        ).query()
        query = _page(query.order_by(TaskRow.priority.desc(), TaskRow.created_at, TaskRow.id), offset, limit)
        with self.db.transaction(write=False) as conn:
            return [task_dict(r, now) for r in conn.execute(query)]

    def task(self, task_id: str, now: datetime | None = None, *, with_form: bool = True) -> dict[str, Any]:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(_TASK_BY_ID, {"task_id": task_id}).first()
            if row is None:
                raise NotFound(f"No task with id {task_id!r}")
            data = task_dict(row, now)
            if row.form_key and with_form:
                form, variables = self._form_of(conn, row)
                data["form"] = form_summary(form, variables) if form is not None else None
        return data

    def task_form(self, task_id: str) -> tuple[Form | None, dict[str, Any]]:
        """A task's form as the engine models it, and the case data it is shown with (pages draw
        the form themselves, text blocks and conditions included)."""
        with self.db.transaction(write=False) as conn:
            row = conn.execute(_TASK_BY_ID, {"task_id": task_id}).first()
            if row is None:
                raise NotFound(f"No task with id {task_id!r}")
            return self._form_of(conn, row)

    def _form_of(self, conn: Connection, row: Any) -> tuple[Form | None, dict[str, Any]]:
        query = select(Instance.variables).where(Instance.id == row.instance_id)
        variables: dict[str, Any] = json.loads(conn.execute(query).scalar_one())
        if not row.form_key:
            return None, variables
        return self.specs.get(conn, row.definition_id).forms.get(row.form_key), variables

    def instances(
        self,
        *,
        process_key: str | None = None,
        status: str | None = None,
        business_key: str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        query = InstanceFilter(
            process_key=process_key,
            status=status,
            business_key=business_key,
            started_after=started_after,
            started_before=started_before,
        ).query()
        query = _page(query.order_by(Instance.started_at.desc(), Instance.id), offset, limit)
        with self.db.transaction(write=False) as conn:
            return [instance_dict(r) for r in conn.execute(query)]

    def instance(self, instance_id: str, now: datetime | None = None) -> dict[str, Any]:
        with self.db.transaction(write=False) as conn:
            key = {"instance_id": instance_id}
            row = conn.execute(_INSTANCE_BY_ID, key).first()
            if row is None:
                raise NotFound(f"No process instance with id {instance_id!r}")
            data = instance_dict(row)
            data["variables"] = json.loads(row.variables)
            data["tasks"] = [task_dict(t, now) for t in conn.execute(_OPEN_TASKS_OF_INSTANCE, key)]
            incidents = conn.execute(_OPEN_INCIDENTS_OF_INSTANCE, key)
            data["open_incidents"] = [incident_dict(i) for i in incidents]
        return data

    def case_fields(self, instance_ids: Collection[str], names: Collection[str]) -> dict[str, dict[str, Any]]:
        """Some top-level variables of several cases in one query: a list of tasks shows each
        task's customer without opening every case."""
        if not instance_ids:
            return {}
        query = select(Instance.id, Instance.variables).where(Instance.id.in_(list(instance_ids)))
        with self.db.transaction(write=False) as conn:
            rows = list(conn.execute(query))
        found: dict[str, dict[str, Any]] = {}
        for instance_id, text in rows:
            variables = json.loads(text)
            found[instance_id] = {name: variables[name] for name in names if name in variables}
        return found

    def incidents(self, *, instance_id: str | None = None, open_only: bool = True) -> list[dict[str, Any]]:
        query = select(Incident).order_by(Incident.created_at)
        if instance_id is not None:
            query = query.where(Incident.instance_id == instance_id)
        if open_only:
            query = query.where(Incident.state == "open")
        with self.db.transaction(write=False) as conn:
            return [incident_dict(r) for r in conn.execute(query)]

    def history(
        self,
        *,
        instance_id: str | None = None,
        business_key: str | None = None,
        actor: str | None = None,
        event_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        query = HistoryFilter(
            instance_id=instance_id,
            business_key=business_key,
            actor=actor,
            event_type=event_type,
            since=since,
            until=until,
        ).query()
        query = _page(query.order_by(HistoryEvent.at, HistoryEvent.chain, HistoryEvent.seq), offset, limit)
        with self.db.transaction(write=False) as conn:
            return [event_dict(r) for r in conn.execute(query)]

    def verify_history(self, chain: str | None = None) -> tuple[int, list[ChainBreak]]:
        with self.db.transaction(write=False) as conn:
            return verify(conn, chain)

    def count_instances(self) -> int:
        with self.db.transaction(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(Instance)).scalar_one())

    # -- paged, sorted lists (the REST API's) --------------------------------------------------

    def task_page(self, where: TaskFilter, page: PageRequest, now: datetime | None = None) -> Page:
        with self.db.transaction(write=False) as conn:
            return fetch_page(
                conn,
                where.query(),
                page,
                TASK_SORT,
                TASK_DEFAULT_SORT,
                TaskRow.id,
                lambda r: task_dict(r, now),
            )

    def instance_page(self, where: InstanceFilter, page: PageRequest) -> Page:
        with self.db.transaction(write=False) as conn:
            return fetch_page(
                conn, where.query(self.db.is_sqlite), page, INSTANCE_SORT, INSTANCE_DEFAULT_SORT, Instance.id,
                instance_dict,
            )

    def history_page(self, where: HistoryFilter, page: PageRequest) -> Page:
        with self.db.transaction(write=False) as conn:
            return fetch_page(
                conn, where.query(), page, HISTORY_SORT, HISTORY_DEFAULT_SORT, HistoryEvent.id, event_dict
            )

    def definition_page(
        self, page: PageRequest, *, key: str | None = None, latest_only: bool = False
    ) -> Page:
        query = select(Definition)
        if key is not None:
            query = query.where(Definition.key == key)
        if latest_only:
            query = _latest_versions(query)
        with self.db.transaction(write=False) as conn:
            return fetch_page(
                conn, query, page, DEFINITION_SORT, DEFINITION_DEFAULT_SORT, Definition.id, definition_dict
            )

    def incident_page(
        self, page: PageRequest, *, instance_id: str | None = None, state: str | None = "open"
    ) -> Page:
        query = select(Incident)
        if instance_id is not None:
            query = query.where(Incident.instance_id == instance_id)
        if state is not None:
            query = query.where(Incident.state == state)
        with self.db.transaction(write=False) as conn:
            return fetch_page(
                conn, query, page, INCIDENT_SORT, INCIDENT_DEFAULT_SORT, Incident.id, incident_dict
            )

    def incident(self, incident_id: str) -> dict[str, Any]:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(select(Incident).where(Incident.id == incident_id)).first()
        if row is None:
            raise NotFound(f"No incident with id {incident_id!r}")
        return incident_dict(row)
