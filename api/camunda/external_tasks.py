"""``/external-task``: the protocol external workers speak (fetch and lock, then answer).

``fetchAndLock`` long-polls: with ``asyncResponseTimeout`` it waits up to that many
milliseconds for work before answering with an empty list. Completion and BPMN errors are
the engine's runtime commands; only the worker that holds a task's lock may answer for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from engine.errors import BpmnErrorSignal, ValidationError
from engine.external_tasks import TopicRequest

from ..auth import current_actor
from . import bp, dto, services
from .params import Params
from .variables import from_camunda

_TOPIC_KEYS = (
    "topicName",
    "lockDuration",
    "variables",
    "businessKey",
    "processDefinitionId",
    "processDefinitionIdIn",
    "processDefinitionKey",
    "processDefinitionKeyIn",
    "processVariables",
    "tenantIdIn",
    "includeExtensionProperties",
)
# Knobs that change nothing here: values are always plain JSON, there are no local scopes or tenants.
_TOPIC_ACCEPTED = ("deserializeValues", "localVariables", "withoutTenantId")


def _topic(entry: Any) -> TopicRequest:
    if not isinstance(entry, Mapping):
        raise ValidationError("Each entry of 'topics' must be a JSON object with topicName and lockDuration")
    params = Params(entry, "property").only(_TOPIC_KEYS, _TOPIC_ACCEPTED)
    name = params.text("topicName")
    duration = entry.get("lockDuration")
    if not name:
        raise ValidationError("topicName is required for every topic")
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise ValidationError(f"lockDuration of topic '{name}' must be a positive number of milliseconds")
    wanted = entry.get("processVariables") or {}
    if not isinstance(wanted, Mapping):
        raise ValidationError(f"processVariables of topic '{name}' must be a JSON object of names and values")
    variables = entry.get("variables")
    if variables is not None and (
        not isinstance(variables, list) or not all(isinstance(v, str) for v in variables)
    ):
        raise ValidationError(f"variables of topic '{name}' must be a list of variable names")
    return TopicRequest(
        name=name,
        lock_duration_ms=duration,
        variables=variables,
        business_key=params.text("businessKey"),
        definition_ids=_one_or_many(params, "processDefinitionId", "processDefinitionIdIn"),
        definition_keys=_one_or_many(params, "processDefinitionKey", "processDefinitionKeyIn"),
        process_variables=dict(wanted),
        tenant_ids=params.texts("tenantIdIn"),
        include_extension_properties=params.flag("includeExtensionProperties"),
    )


def _one_or_many(params: Params, one: str, many: str) -> list[str] | None:
    found = ([params.text(one)] if params.text(one) is not None else []) + (params.texts(many) or [])
    return [v for v in found if v is not None] or None


def _newest_first(sorting: Any) -> bool:
    """Camunda sorts fetched tasks by creation time only; ``[]``/null keeps the oldest first."""
    if sorting in (None, []):
        return False
    if not isinstance(sorting, list) or len(sorting) != 1 or not isinstance(sorting[0], Mapping):
        raise ValidationError(
            'sorting must be a list with one {"sortBy": "createTime", "sortOrder": …} entry'
        )
    entry = sorting[0]
    if entry.get("sortBy") != "createTime" or entry.get("sortOrder") not in ("asc", "desc"):
        raise ValidationError("External tasks can be sorted by createTime, asc or desc, only")
    return bool(entry.get("sortOrder") == "desc")


@bp.post("/external-task/fetchAndLock")
def fetch_and_lock() -> ResponseReturnValue:
    params = Params.body(allow_empty=False).only(
        ("workerId", "maxTasks", "usePriority", "asyncResponseTimeout", "topics", "sorting"),
    )
    topics = params.values.get("topics") or []
    if not isinstance(topics, list):
        raise ValidationError("topics must be a list of {topicName, lockDuration, …} objects")
    max_tasks = params.integer("maxTasks", minimum=0)
    locked = services().external_tasks.fetch_and_lock(
        params.text("workerId") or "",
        [_topic(entry) for entry in topics],
        current_actor(),
        max_tasks=10 if max_tasks is None else max_tasks,
        use_priority=params.flag("usePriority"),
        newest_first=_newest_first(params.values.get("sorting")),
        wait_ms=params.integer("asyncResponseTimeout", minimum=0) or 0,
    )
    return jsonify([dto.locked_task(task) for task in locked])


@bp.post("/external-task/<task_id>/complete")
def complete(task_id: str) -> ResponseReturnValue:
    params = Params.body().only(("workerId", "variables", "localVariables"))
    variables = from_camunda(params.values.get("variables"))
    # Local variables live in the task's own scope, which ends with it: nothing to keep.
    from_camunda(params.values.get("localVariables"), "localVariables")
    worker = params.values.get("workerId")
    actor = current_actor()
    services().external_tasks.check_locked_by(task_id, worker, "complete", actor)
    services().engine.runtime.complete_external(task_id, variables, actor, worker)
    return "", 204


@bp.post("/external-task/<task_id>/bpmnError")
def bpmn_error(task_id: str) -> ResponseReturnValue:
    params = Params.body().only(("workerId", "errorCode", "errorMessage", "variables"))
    code = params.text("errorCode")
    if not code:
        raise ValidationError("errorCode is required: it selects the error boundary event that catches it")
    signal = BpmnErrorSignal(
        code, params.text("errorMessage") or "", from_camunda(params.values.get("variables"))
    )
    worker = params.values.get("workerId")
    actor = current_actor()
    services().external_tasks.check_locked_by(task_id, worker, "report a BPMN error for", actor)
    services().engine.runtime.external_bpmn_error(task_id, signal, actor, worker)
    return "", 204


@bp.post("/external-task/<task_id>/failure")
def failure(task_id: str) -> ResponseReturnValue:
    params = Params.body().only(("workerId", "errorMessage", "errorDetails", "retries", "retryTimeout"))
    retries = params.integer("retries", minimum=0)
    if retries is None:
        raise ValidationError(
            "retries is required: how many more times the task may be tried (0: an incident)"
        )
    services().external_tasks.report_failure(
        task_id,
        params.values.get("workerId"),
        current_actor(),
        message=params.text("errorMessage"),
        details=params.text("errorDetails"),
        retries=retries,
        retry_timeout_ms=params.integer("retryTimeout", minimum=0) or 0,
    )
    return "", 204


@bp.post("/external-task/<task_id>/extendLock")
def extend_lock(task_id: str) -> ResponseReturnValue:
    params = Params.body().only(("workerId", "newDuration"))
    duration = params.integer("newDuration")
    if duration is None or duration < 0:
        raise ValidationError("newDuration must be a number of milliseconds, 0 or more")
    services().external_tasks.extend_lock(task_id, params.values.get("workerId"), duration, current_actor())
    return "", 204
