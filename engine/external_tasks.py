"""External tasks: service tasks worked by workers on other machines (Camunda 7's protocol).

A service task bound to a topic (``camunda:type="external"``) waits as an open ``tasks`` row
of kind ``external``. A worker fetches and locks such rows for a while; it then completes
the task, reports a BPMN error (both are runtime commands), reports a failure (retries left
and a back-off before the task may be fetched again; at zero retries an incident), or
extends its lock. A lock that runs out lets another worker fetch the task: a crashed worker
never holds work forever.

Fetching claims rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serializes
writers), so two workers never lock the same task. Long polling waits on an in-process
signal that every committed write raises, with a short poll as well for work created by
other processes and for locks that expire.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, event, exists, false, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from .actors import Actor, require_can_change
from .bpmn.elements import ProcessModels
from .clock import Clock, as_utc
from .db import Database
from .errors import BadRequest, NotFound, ValidationError
from .models import HistoryEvent, Incident, Instance, TaskState
from .models import Task as TaskRow
from .runtime import Runtime
from .stepper import INCIDENT_MARK

# Camunda caps a long poll at 30 minutes; so do we.
MAX_ASYNC_RESPONSE_MS = 1_800_000
MAX_TASKS_PER_FETCH = 1000
# Locks and back-offs are capped so that "now + duration" stays a date the database can hold.
MAX_DURATION_MS = 366 * 24 * 3600 * 1000
MAX_RETRIES = 2**31 - 1
FAILED_EVENT = "external_task_failed"
_QUIET = "external_tasks_quiet"
_open_incident = exists().where(
    Incident.instance_id == TaskRow.instance_id, Incident.task_id == TaskRow.id, Incident.state == "open"
)


@dataclass(frozen=True)
class TopicRequest:
    """One topic a worker asks for, with its lock duration and filters (as in Camunda's request)."""

    name: str
    lock_duration_ms: int
    # Names of the variables to hand out; None hands out all of them.
    variables: list[str] | None = None
    business_key: str | None = None
    definition_ids: list[str] | None = None
    definition_keys: list[str] | None = None
    # Only tasks whose variables equal these.
    process_variables: Mapping[str, Any] = field(default_factory=dict)
    # Tenants this engine does not have: asking for any tenant matches nothing.
    tenant_ids: list[str] | None = None
    include_extension_properties: bool = False


@dataclass
class LockedTask:
    id: str
    topic: str
    worker_id: str
    lock_expires_at: datetime
    created_at: datetime
    instance_id: str
    definition_id: str
    process_key: str
    version_tag: str | None
    business_key: str | None
    element_id: str
    retries: int | None
    error_message: str | None
    error_details: str | None
    priority: int
    variables: dict[str, Any]
    extension_properties: dict[str, str] | None


@dataclass
class TaskLock:
    """An open external task's row as far as locking goes."""

    id: str
    instance_id: str
    worker_id: str | None
    lock_expires_at: datetime | None


class WorkSignal:
    """Wakes long-polling fetches in this process when a write transaction commits."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._version = 0

    @property
    def version(self) -> int:
        return self._version

    def notify(self) -> None:
        with self._condition:
            self._version += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Until something committed after ``seen`` was read, or ``timeout`` seconds passed."""
        with self._condition:
            self._condition.wait_for(lambda: self._version != seen, timeout=timeout)


def _milliseconds(value: int, what: str) -> timedelta:
    if not _whole(value, 0, MAX_DURATION_MS):
        raise ValidationError(
            f"{what} must be a whole number of milliseconds from 0 to {MAX_DURATION_MS} (a year); "
            f"got {value!r}"
        )
    return timedelta(milliseconds=value)


class ExternalTasks:
    def __init__(
        self,
        db: Database,
        runtime: Runtime,
        clock: Clock,
        restore_data: Callable[[Any], Any],
        models: ProcessModels | None = None,
        *,
        poll_interval: float = 0.25,
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.clock = clock
        self.restore_data = restore_data
        self.models = models or ProcessModels()
        self.poll_interval = poll_interval
        self.signal = WorkSignal()
        event.listen(db.engine, "commit", self._on_commit)
        event.listen(db.engine, "rollback", self._on_rollback)

    def _on_commit(self, conn: Connection) -> None:
        # Read transactions, and fetches that locked nothing, cannot have made work available.
        if conn.info.pop(_QUIET, False) or not conn.info.get("write", True):
            return
        self.signal.notify()

    @staticmethod
    def _on_rollback(conn: Connection) -> None:
        # The mark lives on the pooled connection: it must not outlive its transaction.
        conn.info.pop(_QUIET, None)

    # -- fetching ----------------------------------------------------------------------------

    def fetch_and_lock(
        self,
        worker_id: str,
        topics: list[TopicRequest],
        actor: Actor,
        *,
        max_tasks: int = 10,
        use_priority: bool = False,
        newest_first: bool = False,
        wait_ms: int = 0,
    ) -> list[LockedTask]:
        """Lock up to ``max_tasks`` tasks of the topics for ``worker_id``; wait up to ``wait_ms`` for some."""
        require_can_change(actor, "work on external tasks")
        self._check_request(worker_id, topics, max_tasks, wait_ms)
        if max_tasks == 0 or not topics:
            return []
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            seen = self.signal.version
            locked = self._fetch_once(worker_id, topics, max_tasks, (use_priority, newest_first))
            remaining = deadline - time.monotonic()
            if locked or remaining <= 0:
                return locked
            self.signal.wait(seen, min(self.poll_interval, remaining))

    @staticmethod
    def _check_request(worker_id: str, topics: list[TopicRequest], max_tasks: int, wait_ms: int) -> None:
        if not isinstance(worker_id, str) or not worker_id.strip():
            raise ValidationError("workerId is required: name the worker that locks the tasks")
        if not _whole(max_tasks, 0, MAX_TASKS_PER_FETCH):
            raise ValidationError(f"maxTasks must be a whole number from 0 to {MAX_TASKS_PER_FETCH}")
        if not _whole(wait_ms, 0, MAX_ASYNC_RESPONSE_MS):
            raise ValidationError(
                "asyncResponseTimeout must be a whole number of milliseconds "
                f"from 0 to {MAX_ASYNC_RESPONSE_MS}"
            )
        for topic in topics:
            if not topic.name:
                raise ValidationError("Every topic needs a topicName")
            if not _whole(topic.lock_duration_ms, 1, MAX_DURATION_MS):
                raise ValidationError(
                    f"lockDuration of topic {topic.name!r} must be a positive number of milliseconds, "
                    f"at most {MAX_DURATION_MS} (a year)"
                )

    def _candidates(self, topics: list[TopicRequest], now: datetime, order: tuple[bool, bool]) -> Any:
        by_topic = [_topic_condition(topic) for topic in topics]
        query = (
            select(
                TaskRow.id,
                TaskRow.topic,
                TaskRow.instance_id,
                TaskRow.definition_id,
                TaskRow.process_key,
                TaskRow.business_key,
                TaskRow.element_id,
                TaskRow.retries,
                TaskRow.error_message,
                TaskRow.priority,
                TaskRow.created_at,
            )
            .join(Instance, Instance.id == TaskRow.instance_id)
            .where(
                TaskRow.state == "open",
                TaskRow.kind == "external",
                or_(*by_topic),
                or_(TaskRow.lock_expires_at.is_(None), TaskRow.lock_expires_at <= now),
                # Out of retries means an incident; once it is resolved (retried), the task is fetchable.
                or_(TaskRow.retries.is_(None), TaskRow.retries > 0, ~_open_incident),
                Instance.suspended.is_(False),
            )
        )
        use_priority, newest_first = order
        by: list[Any] = [TaskRow.priority.desc()] if use_priority else []
        by.append(TaskRow.created_at.desc() if newest_first else TaskRow.created_at.asc())
        return query.order_by(*by, TaskRow.id)

    def _fetch_once(
        self, worker_id: str, topics: list[TopicRequest], max_tasks: int, order: tuple[bool, bool]
    ) -> list[LockedTask]:
        now = self.clock.now()
        candidates = self._candidates(topics, now, order)
        # A cheap look without taking the write lock: idle workers poll often.
        with self.db.transaction(write=False) as conn:
            if conn.execute(candidates.limit(1)).first() is None:
                return []
        by_name = {topic.name: topic for topic in topics}
        filtered = any(topic.process_variables for topic in topics)
        with self.db.transaction() as conn:
            rows = self._claim(conn, candidates, by_name, max_tasks, filtered)
            if not rows:
                conn.info[_QUIET] = True
                return []
            expiries = {
                row.id: now + timedelta(milliseconds=by_name[row.topic].lock_duration_ms) for row, _ in rows
            }
            conn.execute(
                update(TaskRow)
                .where(TaskRow.id == bindparam("t_id"))
                .values(worker_id=worker_id, lock_expires_at=bindparam("expires")),
                [{"t_id": row.id, "expires": expiries[row.id]} for row, _ in rows],
            )
            # Locking changes no workflow state; other workers must not wake up for it.
            conn.info[_QUIET] = True
            details = self._error_details(conn, [row for row, _ in rows if row.error_message is not None])
            return [
                self._locked(
                    conn, row, data, by_name[row.topic], worker_id, expiries[row.id], details.get(row.id)
                )
                for row, data in rows
            ]

    def _claim(
        self,
        conn: Connection,
        candidates: Any,
        by_name: dict[str, TopicRequest],
        max_tasks: int,
        filtered: bool,
    ) -> list[tuple[Any, dict[str, Any]]]:
        """Lock rows (skipping those another fetch holds) until ``max_tasks`` match every filter."""
        chosen: list[tuple[Any, dict[str, Any]]] = []
        batch = max_tasks if not filtered else max(50, max_tasks)
        offset = 0
        while len(chosen) < max_tasks:
            query = candidates.offset(offset).limit(batch).with_for_update(skip_locked=True, of=TaskRow)
            rows = list(conn.execute(query))
            if not rows:
                break
            data = self._task_data(conn, rows)
            for row in rows:
                wanted = by_name[row.topic].process_variables
                values = data.get(row.id, {})
                if all(name in values and values[name] == value for name, value in wanted.items()):
                    chosen.append((row, values))
                    if len(chosen) == max_tasks:
                        break
            if not filtered or len(rows) < batch:
                break
            offset += batch
        return chosen

    def _task_data(self, conn: Connection, rows: list[Any]) -> dict[str, dict[str, Any]]:
        """Each task's own data (not the instance's latest), rebuilt from the stored tasks.

        SpiffWorkflow stores a task's data as changes to its parent's, so a task's data is its
        (sub-)workflow root's data with the changes along the way applied in order.
        """
        data: dict[str, dict[str, Any]] = {}
        by_instance: dict[str, list[str]] = {}
        for row in rows:
            by_instance.setdefault(row.instance_id, []).append(row.id)
        for instance_id, task_ids in by_instance.items():
            query = select(TaskState.task_id, TaskState.body).where(TaskState.instance_id == instance_id)
            stored = {task_id: body for task_id, body in conn.execute(query)}
            for task_id in task_ids:
                data[task_id] = self._materialize(stored, task_id)
        return data

    def _materialize(self, stored: dict[str, str], task_id: str) -> dict[str, Any]:
        chain: list[dict[str, Any]] = []
        current: str | None = task_id
        while current is not None and current in stored:
            body = json.loads(stored[current])
            chain.append(body)
            current = body.get("parent")
        data: dict[str, Any] = {}
        for body in reversed(chain):
            delta = body.get("delta") or {}
            if body.get("parent") is None or not delta:
                restored = self.restore_data(body.get("data") or {})
                data = dict(restored) if isinstance(restored, Mapping) else {}
                continue
            updates = self.restore_data(delta.get("updates") or {})
            data = {**data, **(updates if isinstance(updates, Mapping) else {})}
            for name in delta.get("deletions") or []:
                data.pop(name, None)
        return data

    @staticmethod
    def _error_details(conn: Connection, rows: list[Any]) -> dict[str, str | None]:
        """The details of each task's last reported failure (kept in its history event)."""
        details: dict[str, str | None] = {}
        for row in rows:
            data = conn.execute(
                select(HistoryEvent.data)
                .where(
                    HistoryEvent.chain == row.instance_id,  # an instance's events are its chain
                    HistoryEvent.task_id == row.id,
                    HistoryEvent.event_type == FAILED_EVENT,
                )
                .order_by(HistoryEvent.seq.desc())
                .limit(1)
            ).scalar()
            details[row.id] = json.loads(data).get("error_details") if data else None
        return details

    def _locked(
        self,
        conn: Connection,
        row: Any,
        data: dict[str, Any],
        topic: TopicRequest,
        worker_id: str,
        expires: datetime,
        error_details: str | None,
    ) -> LockedTask:
        names = topic.variables
        variables = dict(data) if names is None else {n: data[n] for n in names if n in data}
        model = self.models.get(conn, row.definition_id)
        properties = None
        if topic.include_extension_properties:
            node = model.node(row.element_id)
            properties = dict(node.properties) if node is not None else {}
        return LockedTask(
            id=row.id,
            topic=row.topic,
            worker_id=worker_id,
            lock_expires_at=expires,
            created_at=as_utc(row.created_at),
            instance_id=row.instance_id,
            definition_id=row.definition_id,
            process_key=row.process_key,
            version_tag=model.version_tag,
            business_key=row.business_key,
            element_id=row.element_id,
            # 0 retries left on a fetchable task: an operator retried it, and it starts afresh.
            retries=row.retries or None,
            error_message=row.error_message,
            error_details=error_details,
            priority=row.priority,
            variables=variables,
            extension_properties=properties,
        )

    # -- the worker's answers ------------------------------------------------------------------

    def check_locked_by(self, task_id: str, worker_id: Any, what: str, actor: Actor) -> TaskLock:
        """The open external task ``task_id`` if ``actor`` may answer for it and ``worker_id`` holds its lock.

        Checked before the runtime's complete and BPMN-error commands, which check the lock
        again in their own transaction, to answer with Camunda's 404 and 400 cases.
        """
        require_can_change(actor, f"{what} external tasks")
        with self.db.transaction(write=False) as conn:
            return self._locked_by(conn, task_id, worker_id, what)

    def _locked_by(
        self, conn: Connection, task_id: str, worker_id: Any, what: str, *, lock: bool = False
    ) -> TaskLock:
        if not isinstance(worker_id, str) or not worker_id:
            raise ValidationError(f"workerId is required to {what} an external task")
        query = select(
            TaskRow.id,
            TaskRow.instance_id,
            TaskRow.worker_id,
            TaskRow.lock_expires_at,
            TaskRow.kind,
            TaskRow.state,
        ).where(TaskRow.id == task_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None or row.kind != "external" or row.state != "open":
            raise NotFound(
                f"External task {task_id} does not exist"
                + (f" any more (it is {row.state})" if row is not None and row.kind == "external" else "")
            )
        if row.worker_id is None:
            raise BadRequest(f"External task {task_id} is not locked; fetch and lock it before you {what} it")
        if row.worker_id != worker_id:
            raise BadRequest(
                f"External task {task_id} is locked by worker {row.worker_id!r}, not by {worker_id!r}; "
                f"only the worker holding the lock may {what} it"
            )
        expires = as_utc(row.lock_expires_at) if row.lock_expires_at is not None else None
        return TaskLock(row.id, row.instance_id, row.worker_id, expires)

    def report_failure(
        self,
        task_id: str,
        worker_id: Any,
        actor: Actor,
        *,
        message: str | None,
        details: str | None,
        retries: int,
        retry_timeout_ms: int,
    ) -> None:
        """The worker could not do the task: fetchable again after the timeout; at 0 retries, an incident."""
        require_can_change(actor, "report external task failures")
        if not _whole(retries, 0, MAX_RETRIES):
            raise ValidationError(f"retries must be a whole number from 0 to {MAX_RETRIES}; got {retries!r}")
        backoff = _milliseconds(retry_timeout_ms, "retryTimeout")
        with self.db.transaction() as conn:
            found = self._locked_by(conn, task_id, worker_id, "report a failure for", lock=True)
            # The runtime's plumbing: lock the instance, record in its history chain, save.
            with self.runtime._instance(conn, found.instance_id, actor) as step:
                self.runtime._require_running(step.live, "report external task failures")
                task = self.runtime._spiff_task(step.live, task_id)
                now = step.now
                conn.execute(
                    update(TaskRow)
                    .where(TaskRow.id == task_id)
                    .values(retries=retries, error_message=message, lock_expires_at=now + backoff)
                )
                step.record(
                    FAILED_EVENT,
                    {
                        "worker_id": worker_id,
                        "error_message": message,
                        "error_details": details,
                        "retries": retries,
                        "retry_timeout_ms": retry_timeout_ms,
                    },
                    task,
                )
                if retries == 0 and INCIDENT_MARK not in task.internal_data:  # one incident per failure run
                    # The stepper's one way of raising incidents: retrying works the same for every kind.
                    reason = message or "The external worker failed"
                    self.runtime.stepper._raise_incident(step, task, reason, 1)

    def extend_lock(self, task_id: str, worker_id: Any, new_duration_ms: int, actor: Actor) -> datetime:
        """Keep the lock for ``new_duration_ms`` from now; only while the worker still holds it."""
        require_can_change(actor, "work on external tasks")
        duration = _milliseconds(new_duration_ms, "newDuration")
        now = self.clock.now()
        with self.db.transaction() as conn:
            found = self._locked_by(conn, task_id, worker_id, "extend the lock of", lock=True)
            if found.lock_expires_at is None or found.lock_expires_at <= now:
                raise BadRequest(
                    f"The lock of external task {task_id} has expired; fetch the task again to lock it"
                )
            expires = now + duration
            conn.execute(update(TaskRow).where(TaskRow.id == task_id).values(lock_expires_at=expires))
            conn.info[_QUIET] = True
            return expires


def _whole(value: Any, low: int, high: int | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return value >= low and (high is None or value <= high)


def _topic_condition(topic: TopicRequest) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = [TaskRow.topic == topic.name]
    if topic.tenant_ids:
        conditions.append(false())
    if topic.business_key is not None:
        conditions.append(TaskRow.business_key == topic.business_key)
    if topic.definition_ids is not None:
        conditions.append(TaskRow.definition_id.in_(topic.definition_ids))
    if topic.definition_keys is not None:
        conditions.append(TaskRow.process_key.in_(topic.definition_keys))
    return and_(*conditions)
