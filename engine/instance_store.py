"""Loading and saving running instances: only what changed is written.

An instance's live workflow is kept in a bounded cache keyed by instance id and row
version. A command locks the instance row, reuses the cached workflow when the version
matches (else restores it from its rows), and on save writes the workflow-level state,
the task rows that changed, and bumps the version — checked, so of two concurrent
commands only one can win.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from .bpmn.serializer import remembered, workflow_state
from .errors import Conflict, NotFound
from .history import ChainHead, NewEvent, chain_rows
from .models import HistoryEvent, Instance, TaskState
from .spec_cache import LoadedDefinition, SpecCache
from .sql import Prepared

RUNNING = "running"
COMPLETED = "completed"
CANCELLED = "cancelled"

_SELECT_HEADER = select(
    Instance.id,
    Instance.definition_id,
    Instance.process_key,
    Instance.business_key,
    Instance.status,
    Instance.suspended,
    Instance.incidents,
    Instance.version,
    Instance.history_seq,
    Instance.history_head,
    Instance.next_task_pos,
).where(Instance.id == bindparam("instance_id"))
_SELECT_HEADER_FOR_UPDATE = Prepared(_SELECT_HEADER.with_for_update())
_SELECT_STATE = select(Instance.state).where(Instance.id == bindparam("instance_id"))
_SELECT_TASKS = (
    select(TaskState.task_id, TaskState.workflow_id, TaskState.body)
    .where(TaskState.instance_id == bindparam("instance_id"))
    .order_by(TaskState.pos)
)
_INSERT_TASKS = Prepared(insert(TaskState))
_UPDATE_TASKS = Prepared(
    update(TaskState)
    .where(TaskState.instance_id == bindparam("i_id"), TaskState.task_id == bindparam("t_id"))
    .values(body=bindparam("body"))
)
_DELETE_TASKS = Prepared(
    delete(TaskState).where(
        TaskState.instance_id == bindparam("i_id"), TaskState.task_id == bindparam("t_id")
    )
)
_INSTANCE_VALUES: dict[str, Any] = {
    "version": bindparam("new_version"),
    "state": bindparam("state"),
    "variables": bindparam("variables"),
    "suspended": bindparam("suspended"),
    "incidents": bindparam("incidents"),
    "ended_at": bindparam("ended_at"),
    "next_task_pos": bindparam("next_task_pos"),
    "history_seq": bindparam("history_seq"),
    "history_head": bindparam("history_head"),
}
_WHERE_VERSION = (Instance.id == bindparam("i_id"), Instance.version == bindparam("expected"))
# Two forms: SQLite rewrites the entries of every index whose column is assigned, even to the
# value it already has, and status is in two indexes; most commands leave it unchanged.
_UPDATE_INSTANCE = Prepared(update(Instance).where(*_WHERE_VERSION).values(_INSTANCE_VALUES))
_UPDATE_INSTANCE_STATUS = Prepared(
    update(Instance).where(*_WHERE_VERSION).values({**_INSTANCE_VALUES, "status": bindparam("status")})
)
_INSERT_EVENTS = Prepared(insert(HistoryEvent))


# json.dumps with options builds a new encoder on each call; this runs on every save.
_VARIABLES_JSON = json.JSONEncoder(default=str)


@dataclass
class InstanceHeader:
    id: str
    definition_id: str
    process_key: str
    business_key: str | None
    status: str
    suspended: bool
    incidents: int
    version: int
    history_seq: int
    history_head: str
    next_task_pos: int
    started_at: datetime | None = None
    started_by: str | None = None
    # The status as stored on the row, so saving rewrites it (and its indexes) only when it changed.
    stored_status: str | None = None

    def __post_init__(self) -> None:
        if self.stored_status is None:
            self.stored_status = self.status


@dataclass
class LiveInstance:
    header: InstanceHeader
    definition: LoadedDefinition
    workflow: BpmnWorkflow
    # task id → the dict last written for it (compared by identity: unchanged tasks reuse theirs)
    saved: dict[str, Any] = field(default_factory=dict)
    # Ids of the open task rows, and the event subscriptions, as stored (None: not read yet).
    open_rows: set[str] | None = None
    # (task id, kind, name) → due time (timers) or None (messages).
    subscriptions: dict[tuple[str, str, str | None], datetime | None] | None = None
    ended_at: datetime | None = None
    events: list[NewEvent] = field(default_factory=list)


class LiveCache:
    """Bounded LRU of live workflows; an entry is only used at the row version it was saved at."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, LiveInstance] = OrderedDict()
        self._lock = Lock()

    def take(self, instance_id: str, version: int) -> LiveInstance | None:
        # Taken out while a command works on it: a failed command must not leave a half-changed
        # workflow behind for the next one.
        with self._lock:
            live = self._items.pop(instance_id, None)
        if live is not None and live.header.version == version:
            return live
        return None

    def put(self, live: LiveInstance) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._items[live.header.id] = live
            self._items.move_to_end(live.header.id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class InstanceStore:
    def __init__(self, serializer: BpmnWorkflowSerializer, specs: SpecCache, cache_size: int = 2000) -> None:
        self.serializer = serializer
        self.registry = serializer.registry
        self.specs = specs
        self.cache = LiveCache(cache_size)

    # -- loading ---------------------------------------------------------------------------

    def header(self, conn: Connection, instance_id: str, *, lock: bool) -> InstanceHeader:
        # FOR UPDATE also when only reading for a command: the row lock is what serializes commands
        # on PostgreSQL (SQLite's BEGIN IMMEDIATE already did).
        del lock
        row = _SELECT_HEADER_FOR_UPDATE.first(conn, {"instance_id": instance_id})
        if row is None:
            raise NotFound(f"No process instance with id {instance_id!r}")
        return InstanceHeader(*row)

    def load(self, conn: Connection, instance_id: str) -> LiveInstance:
        """The instance, locked for this transaction, with its live workflow."""
        header = self.header(conn, instance_id, lock=True)
        live = self.cache.take(instance_id, header.version)
        if live is not None:
            live.header = header
            live.events = []
            return live
        definition = self.specs.get(conn, header.definition_id)
        state = json.loads(conn.execute(_SELECT_STATE, {"instance_id": instance_id}).scalar_one())
        top_tasks: dict[str, Any] = {}
        sub_tasks: dict[str, dict[str, Any]] = {}
        for task_id, workflow_id, body in conn.execute(_SELECT_TASKS, {"instance_id": instance_id}):
            dct = json.loads(body)
            (top_tasks if workflow_id is None else sub_tasks.setdefault(workflow_id, {}))[task_id] = dct
        for sub_id, sub_state in state["subprocesses"].items():
            sub_state["tasks"] = sub_tasks.get(sub_id, {})
        state["tasks"] = top_tasks
        state["spec"] = self.registry.convert(definition.spec)
        state["subprocess_specs"] = {
            name: self.registry.convert(spec) for name, spec in definition.subprocess_specs.items()
        }
        workflow = self.registry.restore(state)
        workflow.script_engine = self.script_engine
        live = LiveInstance(header, definition, workflow)
        # Restored tasks carry their stored dicts (MemoTaskConverter), so nothing is rewritten.
        live.saved = {task_id: dct for task_id, (dct, _owner) in self._split(workflow)[1].items()}
        return live

    script_engine: Any = None

    # -- saving ----------------------------------------------------------------------------

    def _split(self, workflow: BpmnWorkflow) -> tuple[dict[str, Any], dict[str, tuple[Any, str | None]]]:
        """The workflow as SpiffWorkflow's serializer writes it, split into state and tasks.

        The configured converters make this cheap: specs convert to references, the
        workflow-level state is converted without its tasks, and unchanged tasks return the
        dict they returned before.
        """
        state = workflow_state(self.registry, workflow)
        state.pop("spec", None)
        state.pop("subprocess_specs", None)
        state.pop("tasks", None)
        convert = self.registry.convert
        tasks: dict[str, tuple[Any, str | None]] = {}
        for task in workflow.tasks.values():
            dct = remembered(task) or convert(task)
            tasks[dct["id"]] = (dct, None)
        subprocesses = workflow.subprocesses
        for sub_id, sub_state in state["subprocesses"].items():
            sub_state.pop("tasks", None)
            for task in subprocesses[UUID(sub_id)].tasks.values():
                dct = remembered(task) or convert(task)
                tasks[dct["id"]] = (dct, sub_id)
        return state, tasks

    def insert_new(self, conn: Connection, live: LiveInstance) -> None:
        """Store a new instance's row first, so the rows its first step creates can refer to it."""
        header = live.header
        conn.execute(
            insert(Instance).values(
                id=header.id,
                definition_id=header.definition_id,
                process_key=header.process_key,
                business_key=header.business_key,
                status=header.status,
                suspended=False,
                incidents=0,
                started_at=header.started_at,
                started_by=header.started_by,
                version=header.version,
                serializer_version=self.serializer.VERSION,
                state="{}",
                variables="{}",
                next_task_pos=0,
                history_seq=0,
                history_head=header.history_head,
            )
        )

    def save(self, conn: Connection, live: LiveInstance, now: datetime, variables: dict[str, Any]) -> None:
        header = live.header
        workflow = live.workflow
        state_dict, tasks = self._split(workflow)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        saved = live.saved
        pos = header.next_task_pos
        for task_id, (dct, owner) in tasks.items():
            previous = saved.get(task_id)
            if previous is None:
                inserts.append(
                    {
                        "instance_id": header.id,
                        "task_id": task_id,
                        "workflow_id": owner,
                        "pos": pos,
                        "body": json.dumps(dct),
                    }
                )
                pos += 1
            elif previous is not dct:
                updates.append({"i_id": header.id, "t_id": task_id, "body": json.dumps(dct)})
        removed = [{"i_id": header.id, "t_id": t} for t in saved.keys() - tasks.keys()]
        context = {
            "instance_id": header.id,
            "business_key": header.business_key,
            "definition_id": header.definition_id,
            "definition_version": live.definition.version,
        }
        event_rows, head = chain_rows(
            header.id, ChainHead(header.history_seq, header.history_head), live.events, now, context
        )
        state = json.dumps(state_dict)
        values = {
            "state": state,
            "variables": _VARIABLES_JSON.encode(variables),
            "suspended": header.suspended,
            "incidents": header.incidents,
            "ended_at": live.ended_at,
            "next_task_pos": pos,
            "history_seq": head.seq,
            "history_head": head.head,
        }
        values.update(i_id=header.id, expected=header.version, new_version=header.version + 1)
        if header.status != header.stored_status:
            changed = _UPDATE_INSTANCE_STATUS.rowcount(conn, {**values, "status": header.status})
        else:
            changed = _UPDATE_INSTANCE.rowcount(conn, values)
        if changed != 1:
            raise Conflict(f"Process instance {header.id} was changed by another request; retry")
        header.version += 1
        header.stored_status = header.status
        _DELETE_TASKS.execute_many(conn, removed)
        _UPDATE_TASKS.execute_many(conn, updates)
        _INSERT_TASKS.execute_many(conn, inserts)
        _INSERT_EVENTS.execute_many(conn, event_rows)
        header.next_task_pos = pos
        header.history_seq, header.history_head = head.seq, head.head
        live.saved = {task_id: dct for task_id, (dct, _owner) in tasks.items()}
        live.events = []

    def bytes_stored(self, conn: Connection, instance_id: str) -> int:
        state = conn.execute(_SELECT_STATE, {"instance_id": instance_id}).scalar_one()
        total = len(state.encode())
        for _task_id, _workflow_id, body in conn.execute(_SELECT_TASKS, {"instance_id": instance_id}):
            total += len(body.encode())
        return total
