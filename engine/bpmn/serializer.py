"""SpiffWorkflow's serializer, configured so that saving a step costs only what changed.

Two converters are replaced through ``BpmnWorkflowSerializer.configure``:

* tasks: a task's dict is remembered on the task and reused while the task has not
  changed (same state, state-change time, data object, children, internal data, and the
  same of its parent, whose data its stored delta is taken against), so the store can tell
  the changed tasks apart by identity and write only those. Data can also change in place
  (a handler's result, a message's payload, a multi-instance collection): a task that is
  under way, or whose parent is, is converted again and compared with its remembered dict;
* workflows: converted without their tasks when the store asks (``workflow_state``): it
  stores the tasks as rows of their own, and walking them through the generic converter on
  every save cost more than the rest of the save;
* process specs: the parsed spec is stored once per definition version, never inside an
  instance; an instance's state names its spec by key and the converter returns the
  shared, already-restored spec object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.process_spec import BpmnProcessSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .continuations import ContinuationTimerEventDefinition, mark_stored
from .specs import EngineServiceTask
from .timers import ENGINE_TIMER_DEFINITIONS

SPEC_KEY = "engine_spec_key"
_MEMO = "_engine_serialized"


# Tasks whose data SpiffWorkflow or the engine may change in place, without a change of state.
UNDER_WAY = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
# Ended for good (nothing sets another state on them); ERROR is left out: a failed task is retried.
_ENDED = TaskState.COMPLETED | TaskState.CANCELLED


def _fingerprint(task: Task, parent: Task | None) -> tuple[Any, ...]:
    own = (
        task.state,
        task.last_state_change,
        task.triggered,
        len(task._children),
        len(task.internal_data),
        id(task.data),
        len(task.data),
    )
    if parent is None:
        return own
    return (*own, parent.state, parent.last_state_change, id(parent.data), len(parent.data))


def _memo(task: Task, dct: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any], bool]:
    """(fingerprint, dict, settled): settled when the task and its parent have both ended.

    Most tasks of a running instance are settled. Their parent cannot change any more, so
    only their own fingerprint is checked (children dropped below them still show in it).
    """
    parent = task.parent
    settled = bool(task.state & _ENDED) and (parent is None or bool(parent.state & _ENDED))
    return _fingerprint(task, None if settled else parent), dct, settled


def remembered(task: Task) -> dict[str, Any] | None:
    """The dict last written for ``task`` if it is still what converting it would give, else None.

    The store's fast path over the tasks of a workflow, most of which are long finished.
    """
    memo = task.__dict__.get(_MEMO)
    if memo is None:
        return None
    dct: dict[str, Any] = memo[1]
    if memo[2]:
        return dct if memo[0] == _fingerprint(task, None) else None
    if task.state & UNDER_WAY:
        return None
    parent = task.parent
    if parent is not None and parent.state & UNDER_WAY:
        return None
    return dct if memo[0] == _fingerprint(task, parent) else None


class MemoTaskConverter(TaskConverter):
    def to_dict(self, task: Task) -> dict[str, Any]:
        mark_stored(task)  # a commit point reached in this command is passed in the next one
        found = remembered(task)
        if found is not None:
            return found
        memo = task.__dict__.get(_MEMO)
        dct: dict[str, Any] = super().to_dict(task)
        if memo is not None:
            # The registry adds the typename to what this returns; add it here to compare whole.
            dct["typename"] = memo[1].get("typename")
            if dct == memo[1]:
                dct = memo[1]  # the same object again: the store writes only what is not
                task.__dict__[_MEMO] = _memo(task, dct)
                return dct
        # SpiffWorkflow's dict holds the task's own data objects (its data, its delta's values):
        # remembered as they are, a change made inside one later would show in the remembered
        # dict too, and the comparison above would find nothing to write. Keep a copy.
        dct["data"] = deepcopy(dct["data"])
        dct["delta"] = deepcopy(dct["delta"])
        task.__dict__[_MEMO] = _memo(task, dct)
        return dct

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Task:
        task: Task = super().from_dict(dct, workflow)
        # A task just loaded is unchanged: remember the stored dict so it is not written again.
        # Its parent is restored before it (rows are read in creation order).
        task.__dict__[_MEMO] = _memo(task, dct)
        return task


# Set while the store converts a workflow's own state: its tasks are stored as rows apart.
_WITHOUT_TASKS: ContextVar[bool] = ContextVar("engine_without_tasks", default=False)


class _TasksApart:
    def mapping_to_dict(self, mapping: Mapping[Any, Any], **kwargs: Any) -> dict[str, Any]:
        if _WITHOUT_TASKS.get() and mapping and isinstance(next(iter(mapping.values())), Task):
            return {}
        result: dict[str, Any] = super().mapping_to_dict(mapping, **kwargs)  # type: ignore[misc]
        return result


class EngineWorkflowConverter(_TasksApart, BpmnWorkflowConverter):
    """SpiffWorkflow's workflow converter, which can leave the tasks out (``workflow_state``)."""


class EngineSubWorkflowConverter(_TasksApart, BpmnSubWorkflowConverter):
    """SpiffWorkflow's sub-workflow converter, which can leave the tasks out (``workflow_state``)."""


def workflow_state(registry: Any, workflow: BpmnWorkflow) -> dict[str, Any]:
    """The workflow as the serializer writes it, with empty ``tasks`` (here and in sub-workflows)."""
    token = _WITHOUT_TASKS.set(True)
    try:
        state: dict[str, Any] = registry.convert(workflow)
    finally:
        _WITHOUT_TASKS.reset(token)
    return state


class SharedSpecConverter(BpmnProcessSpecConverter):
    """Stores specs by reference; restores the shared spec object for a reference."""

    def __init__(
        self,
        target_class: type,
        registry: Any,
        typename: str | None = None,
        resolver: Callable[[str], BpmnProcessSpec] | None = None,
    ) -> None:
        self.resolver = resolver
        super().__init__(target_class, registry, typename)

    def to_dict(self, spec: BpmnProcessSpec) -> dict[str, Any]:
        key = getattr(spec, SPEC_KEY, None)
        if key is not None:
            return {SPEC_KEY: key, "typename": self.typename}
        return super().to_dict(spec)

    def from_dict(self, dct: dict[str, Any]) -> BpmnProcessSpec:
        key = dct.get(SPEC_KEY)
        if key is not None:
            if self.resolver is None:
                raise LookupError("no spec resolver configured")
            return self.resolver(key)
        return super().from_dict(dct)


def make_serializer(resolver: Callable[[str], BpmnProcessSpec] | None = None) -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[EngineServiceTask] = ServiceTaskConverter
    config[Task] = MemoTaskConverter
    config[BpmnWorkflow] = EngineWorkflowConverter
    config[BpmnSubWorkflow] = EngineSubWorkflowConverter
    for timer_class in (*ENGINE_TIMER_DEFINITIONS.values(), ContinuationTimerEventDefinition):
        # The engine's clock-aware timers store exactly what SpiffWorkflow's do.
        config[timer_class] = TimerConditionalEventDefinitionConverter
    del config[BpmnProcessSpec]
    registry = BpmnWorkflowSerializer.configure(config)
    # Registered by hand: configure() builds converters without arguments, this one needs its resolver.
    SharedSpecConverter(BpmnProcessSpec, registry, resolver=resolver)
    return BpmnWorkflowSerializer(registry)
