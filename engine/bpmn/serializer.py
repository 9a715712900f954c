"""SpiffWorkflow's serializer, configured so that saving a step costs only what changed.

Two converters are replaced through ``BpmnWorkflowSerializer.configure``:

* tasks: a task's dict is remembered on the task and reused while the task has not
  changed (same state, state-change time, data object, children, internal data), so the
  store can tell the changed tasks apart by identity and write only those;
* process specs: the parsed spec is stored once per definition version, never inside an
  instance; an instance's state names its spec by key and the converter returns the
  shared, already-restored spec object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.process_spec import BpmnProcessSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.task import Task

from .continuations import ContinuationTimerEventDefinition, mark_stored
from .specs import EngineServiceTask
from .timers import ENGINE_TIMER_DEFINITIONS

SPEC_KEY = "engine_spec_key"
_MEMO = "_engine_serialized"


def _fingerprint(task: Task) -> tuple[Any, ...]:
    return (
        task.state,
        task.last_state_change,
        task.triggered,
        len(task._children),
        len(task.internal_data),
        id(task.data),
        len(task.data),
    )


class MemoTaskConverter(TaskConverter):
    def to_dict(self, task: Task) -> dict[str, Any]:
        mark_stored(task)  # a commit point reached in this command is passed in the next one
        fingerprint = _fingerprint(task)
        memo = task.__dict__.get(_MEMO)
        if memo is not None and memo[0] == fingerprint:
            return memo[1]
        dct: dict[str, Any] = super().to_dict(task)
        task.__dict__[_MEMO] = (fingerprint, dct)
        return dct

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Task:
        task: Task = super().from_dict(dct, workflow)
        # A task just loaded is unchanged: remember the stored dict so it is not written again.
        task.__dict__[_MEMO] = (_fingerprint(task), dct)
        return task


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
    for timer_class in (*ENGINE_TIMER_DEFINITIONS.values(), ContinuationTimerEventDefinition):
        # The engine's clock-aware timers store exactly what SpiffWorkflow's do.
        config[timer_class] = TimerConditionalEventDefinitionConverter
    del config[BpmnProcessSpec]
    registry = BpmnWorkflowSerializer.configure(config)
    # Registered by hand: configure() builds converters without arguments, this one needs its resolver.
    SharedSpecConverter(BpmnProcessSpec, registry, resolver=resolver)
    return BpmnWorkflowSerializer(registry)
