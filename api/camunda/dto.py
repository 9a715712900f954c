"""The engine's views in Camunda 7's JSON shapes: every member Camunda sends, with its nulls.

Members for features this engine does not have (tenants, CMMN cases, follow-up dates,
removal times) are present and null, as Camunda sends them when unused, so clients that
read them find what they expect.
"""

from __future__ import annotations

from typing import Any

from flask import request

from engine.camunda_history import ActivityView, InstanceView
from engine.camunda_queries import DefinitionView, TaskView
from engine.external_tasks import LockedTask

from .params import format_date
from .variables import to_camunda


def link(path: str) -> list[dict[str, str]]:
    """Camunda's ``links`` member: where the created resource is."""
    return [{"method": "GET", "href": f"{request.url_root.rstrip('/')}/engine-rest/{path}", "rel": "self"}]


def deployment(row: Any, links: bool = False) -> dict[str, Any]:
    return {
        "links": link(f"deployment/{row.id}") if links else [],
        "id": row.id,
        "name": row.name,
        "source": row.source,
        "deploymentTime": format_date(row.deployed_at),
        "tenantId": None,
    }


def deployment_with_definitions(row: Any, definitions: list[DefinitionView]) -> dict[str, Any]:
    return {
        **deployment(row, links=True),
        "deployedProcessDefinitions": {d.id: definition(d) for d in definitions} or None,
        "deployedCaseDefinitions": None,
        "deployedDecisionDefinitions": None,
        "deployedDecisionRequirementsDefinitions": None,
    }


def definition(view: DefinitionView) -> dict[str, Any]:
    return {
        "id": view.id,
        "key": view.key,
        "category": view.model.category,
        "description": view.documentation,
        "name": view.name,
        "version": view.version,
        "resource": view.resource_name,
        "deploymentId": view.deployment_id,
        "diagram": None,
        "suspended": False,
        "tenantId": None,
        "versionTag": view.model.version_tag,
        "historyTimeToLive": view.model.history_time_to_live,
        "startableInTasklist": view.executable,
    }


def task(view: TaskView) -> dict[str, Any]:
    # A delegated task is pending until its assignee resolves it back to the owner.
    delegated = view.owner is not None and view.assignee is not None and view.owner != view.assignee
    return {
        "id": view.id,
        "name": view.name,
        "assignee": view.assignee,
        "owner": view.owner,
        "created": format_date(view.created_at),
        "lastUpdated": None,
        "due": format_date(view.due_at),
        "followUp": None,
        "delegationState": "PENDING" if delegated else None,
        "description": view.documentation,
        "executionId": view.instance_id,
        "parentTaskId": None,
        "priority": view.priority,
        "processDefinitionId": view.definition_id,
        "processInstanceId": view.instance_id,
        "caseExecutionId": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "taskDefinitionKey": view.element_id,
        "suspended": view.suspended,
        # Generated forms (camunda:formData) have no form key in Camunda either.
        "formKey": None if (view.form_key or "").startswith("camunda-form-data:") else view.form_key,
        "camundaFormRef": None,
        "tenantId": None,
        "taskState": "Created",
    }


def instance(
    instance_id: str, definition_id: str, business_key: str | None, ended: bool, suspended: bool
) -> dict[str, Any]:
    return {
        "links": link(f"process-instance/{instance_id}"),
        "id": instance_id,
        "definitionId": definition_id,
        "businessKey": business_key,
        "caseInstanceId": None,
        "ended": ended,
        "suspended": suspended,
        "tenantId": None,
    }


def historic_instance(view: InstanceView) -> dict[str, Any]:
    return {
        "id": view.id,
        "rootProcessInstanceId": view.id,
        "superProcessInstanceId": None,
        "superCaseInstanceId": None,
        "caseInstanceId": None,
        "processDefinitionName": view.definition_name,
        "processDefinitionKey": view.process_key,
        "processDefinitionVersion": view.definition_version,
        "processDefinitionId": view.definition_id,
        "businessKey": view.business_key,
        "startTime": format_date(view.started_at),
        "endTime": format_date(view.ended_at),
        "removalTime": None,
        "durationInMillis": view.duration_ms,
        "startUserId": view.started_by,
        "startActivityId": view.start_activity_id,
        "deleteReason": view.delete_reason,
        "tenantId": None,
        "state": view.state,
    }


def activity(view: ActivityView) -> dict[str, Any]:
    return {
        "id": view.id,
        "parentActivityInstanceId": view.parent_id,
        "activityId": view.activity_id,
        "activityName": view.activity_name,
        "activityType": view.activity_type,
        "processDefinitionKey": view.process_key,
        "processDefinitionId": view.definition_id,
        "processInstanceId": view.instance_id,
        "executionId": view.instance_id,
        "taskId": view.task_id,
        "assignee": view.assignee,
        "calledProcessInstanceId": None,
        "calledCaseInstanceId": None,
        "startTime": format_date(view.started_at),
        "endTime": format_date(view.ended_at),
        "durationInMillis": view.duration_ms,
        "canceled": view.canceled,
        "completeScope": view.complete_scope,
        "tenantId": None,
        "removalTime": None,
        "rootProcessInstanceId": view.instance_id,
    }


_TASK_ENDINGS = {"completed": ("completed", "Completed"), "cancelled": ("deleted", "Deleted")}


def historic_task(view: TaskView) -> dict[str, Any]:
    reason, state = _TASK_ENDINGS.get(view.state, (None, "Created"))
    ended = view.ended_at if view.state != "open" else None
    duration = int((ended - view.created_at).total_seconds() * 1000) if ended is not None else None
    return {
        "id": view.id,
        "processDefinitionKey": view.process_key,
        "processDefinitionId": view.definition_id,
        "processInstanceId": view.instance_id,
        "executionId": view.instance_id,
        "caseDefinitionKey": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "caseExecutionId": None,
        "activityInstanceId": f"{view.element_id}:{view.id}",
        "name": view.name,
        "description": view.documentation,
        "deleteReason": reason,
        "owner": view.owner,
        "assignee": view.assignee,
        "startTime": format_date(view.created_at),
        "endTime": format_date(ended),
        "duration": duration,
        "taskDefinitionKey": view.element_id,
        "priority": view.priority,
        "due": format_date(view.due_at),
        "parentTaskId": None,
        "followUp": None,
        "tenantId": None,
        "removalTime": None,
        "rootProcessInstanceId": view.instance_id,
        "taskState": state,
    }


def locked_task(locked: LockedTask) -> dict[str, Any]:
    body: dict[str, Any] = {
        "activityId": locked.element_id,
        "activityInstanceId": f"{locked.element_id}:{locked.id}",
        "errorMessage": locked.error_message,
        "errorDetails": locked.error_details,
        "executionId": locked.instance_id,
        "id": locked.id,
        "lockExpirationTime": format_date(locked.lock_expires_at),
        "createTime": format_date(locked.created_at),
        "processDefinitionId": locked.definition_id,
        "processDefinitionKey": locked.process_key,
        "processDefinitionVersionTag": locked.version_tag,
        "processInstanceId": locked.instance_id,
        "tenantId": None,
        "retries": locked.retries,
        "workerId": locked.worker_id,
        "priority": locked.priority,
        "topicName": locked.topic,
        "businessKey": locked.business_key,
        "variables": to_camunda(locked.variables),
    }
    if locked.extension_properties is not None:
        body["extensionProperties"] = locked.extension_properties
    return body
