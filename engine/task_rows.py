"""What a waiting SpiffWorkflow task looks like as a row: role, assignee, form, priority, due time.

Values come from the diagram's attributes (``camunda:candidateGroups``, ``camunda:assignee``,
``camunda:priority``, ``camunda:dueDate``, Camunda 8's equivalents, the task's lane);
attributes written as expressions were translated at deploy (``engine.bpmn.assignment``)
and are evaluated over the task's data in the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.task import Task as SpiffTask

from .bpmn.assignment import CODE_PREFIX
from .bpmn.specs import KIND_EXTERNAL, EngineServiceTask
from .bpmn.validation import form_key
from .expressions import is_el, translate

DEFAULT_PRIORITY = 50


@dataclass
class TaskRowInfo:
    id: str
    kind: str  # user | external | service
    element_id: str
    name: str | None
    documentation: str | None
    role: str | None
    candidate_users: str | None
    assignee: str | None
    form_key: str | None
    priority: int
    due_at: datetime | None
    topic: str | None
    # The process whose diagram holds the task (see ``defining_process``); deadline policies match it.
    defined_in: str | None = None
    # Every candidate group, comma-separated, when the diagram names them (``role`` is the first).
    candidate_groups: str | None = None


def defining_process(task: SpiffTask) -> str:
    """The key of the process whose diagram holds ``task``.

    Inside a call activity that is the called process (a callback run from a repair case is
    still a callback); inside an embedded sub-process, the process around it.
    """
    workflow = task.workflow
    while isinstance(workflow, BpmnSubWorkflow):
        parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        if parent is None or isinstance(parent.task_spec, CallActivity):
            break
        workflow = parent.workflow
    name: str = workflow.spec.name
    return name


def role_from_lane(lane: str | None) -> str | None:
    """A lane named "Complaint handler" stands for the role ``complaint_handler``."""
    if not lane:
        return None
    return re.sub(r"[^0-9a-z]+", "_", lane.strip().lower()).strip("_") or None


@lru_cache(maxsize=4096)
def _code_for(text: str) -> str:
    return translate(text) if is_el(text) else repr(text)


def attribute_value(task: SpiffTask, extensions: dict[str, Any], name: str) -> Any:
    """Attribute ``name`` of the task: literal text, or its expression evaluated over the task data."""
    code = extensions.get(f"{CODE_PREFIX}{name}")
    if code is not None:
        return task.workflow.script_engine.evaluate(task, code)
    text = extensions.get(f"camunda:{name}")
    if not text:
        return None
    if is_el(text):  # a definition deployed before expressions were translated at deploy
        return task.workflow.script_engine.evaluate(task, _code_for(text))
    return text


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _due(task: SpiffTask, extensions: dict[str, Any], now: datetime) -> datetime | None:
    value = attribute_value(task, extensions, "dueDate")
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    parsed = TimerEventDefinition.parse_time_or_duration(str(value))
    if isinstance(parsed, datetime):
        return parsed
    return now + TimerEventDefinition.get_timedelta_from_start(parsed, now)


def user_task_info(task: SpiffTask, now: datetime) -> TaskRowInfo:
    spec = task.task_spec
    ext: dict[str, Any] = getattr(spec, "extensions", {}) or {}
    groups = _split(attribute_value(task, ext, "candidateGroups"))
    role = groups[0] if groups else role_from_lane(spec.lane)
    users = _split(attribute_value(task, ext, "candidateUsers"))
    assignee = attribute_value(task, ext, "assignee")
    priority_value = attribute_value(task, ext, "priority")
    try:
        priority = int(priority_value) if priority_value not in (None, "") else DEFAULT_PRIORITY
    except (TypeError, ValueError):
        priority = DEFAULT_PRIORITY
    camunda = {k.split(":", 1)[1]: v for k, v in ext.items() if k.startswith("camunda:")}
    key = form_key(camunda)
    if key is None and ext.get("camunda:formData") is not None:
        key = f"camunda-form-data:{spec.bpmn_id}"
    return TaskRowInfo(
        id=str(task.id),
        kind="user",
        element_id=spec.bpmn_id,
        name=spec.bpmn_name,
        documentation=spec.documentation,
        role=role,
        candidate_users=",".join(users) or None,
        assignee=str(assignee) if assignee else None,
        form_key=key,
        priority=priority,
        due_at=_due(task, ext, now),
        topic=None,
        defined_in=defining_process(task),
        candidate_groups=",".join(groups) or None,
    )


def service_task_info(task: SpiffTask) -> TaskRowInfo:
    spec: EngineServiceTask = task.task_spec
    external = spec.binding_kind == KIND_EXTERNAL
    return TaskRowInfo(
        id=str(task.id),
        kind="external" if external else "service",
        element_id=spec.bpmn_id,
        name=spec.bpmn_name,
        documentation=spec.documentation,
        role=None,
        candidate_users=None,
        assignee=None,
        form_key=None,
        priority=DEFAULT_PRIORITY,
        due_at=None,
        topic=spec.topic if external else spec.handler_name,
    )


DeadlinePolicy = Callable[[TaskRowInfo, dict[str, Any], datetime], datetime | None]
