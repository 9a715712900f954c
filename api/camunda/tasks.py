"""``/task``: open user tasks, queried as Camunda's task list does, and worked on.

Who may claim or complete a task is the engine's rule (its assignee, or unclaimed, a member
of its lane's role); ``userId`` in a claim names the claimer, and only the caller may claim
for themselves unless they may assign tasks to others.
"""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from engine.camunda_queries import TASK_SORTS, TaskFilter
from engine.errors import Conflict, ValidationError

from ..auth import current_actor
from ..rest.tasks import existing_user
from . import bp, dto, services
from .params import PAGING, SORTING, Params, window
from .variables import from_camunda, to_camunda

_FILTERS = (
    "taskId",
    "taskIdIn",
    "processInstanceId",
    "processInstanceIdIn",
    "processInstanceBusinessKey",
    "processInstanceBusinessKeyLike",
    "processDefinitionId",
    "processDefinitionKey",
    "processDefinitionKeyIn",
    "taskDefinitionKey",
    "taskDefinitionKeyIn",
    "name",
    "nameLike",
    "assignee",
    "assigneeLike",
    "assigneeIn",
    "owner",
    "assigned",
    "unassigned",
    "candidateGroup",
    "candidateGroups",
    "candidateUser",
    "includeAssignedTasks",
    "dueBefore",
    "dueAfter",
    "dueDate",
    "withoutDueDate",
    "createdBefore",
    "createdAfter",
    "createdOn",
    "priority",
    "minPriority",
    "maxPriority",
    "active",
    "suspended",
)
# Knobs that change nothing here (no tenants, no CMMN, no variable-name case rules).
_ACCEPTED = ("withoutTenantId", "variableNamesIgnoreCase", "variableValuesIgnoreCase")


def _one_or_many(params: Params, one: str, many: str) -> list[str] | None:
    single, several = params.text(one), params.texts(many)
    if single is None:
        return several
    if several is None:
        return [single]
    return [single] if single in several else []


def _filter(params: Params) -> TaskFilter:
    groups = _one_or_many(params, "candidateGroup", "candidateGroups")
    return TaskFilter(
        task_ids=_one_or_many(params, "taskId", "taskIdIn"),
        instance_ids=_one_or_many(params, "processInstanceId", "processInstanceIdIn"),
        business_key=params.text("processInstanceBusinessKey"),
        business_key_like=params.text("processInstanceBusinessKeyLike"),
        definition_ids=[d] if (d := params.text("processDefinitionId")) is not None else None,
        definition_keys=_one_or_many(params, "processDefinitionKey", "processDefinitionKeyIn"),
        element_ids=_one_or_many(params, "taskDefinitionKey", "taskDefinitionKeyIn"),
        name=params.text("name"),
        name_like=params.text("nameLike"),
        assignee=params.text("assignee"),
        assignee_like=params.text("assigneeLike"),
        assignees=params.texts("assigneeIn"),
        owner=params.text("owner"),
        assigned=params.flag("assigned"),
        unassigned=params.flag("unassigned"),
        candidate_groups=groups,
        candidate_user=params.text("candidateUser"),
        include_assigned=params.flag("includeAssignedTasks"),
        due_before=params.date("dueBefore"),
        due_after=params.date("dueAfter"),
        due_date=params.date("dueDate"),
        without_due_date=params.flag("withoutDueDate"),
        created_before=params.date("createdBefore"),
        created_after=params.date("createdAfter"),
        created_on=params.date("createdOn"),
        priority=params.integer("priority"),
        min_priority=params.integer("minPriority"),
        max_priority=params.integer("maxPriority"),
        active=params.flag("active"),
        suspended=params.flag("suspended"),
    )


@bp.get("/task")
def task_list() -> ResponseReturnValue:
    params = Params.query().only((*_FILTERS, *SORTING, *PAGING), _ACCEPTED)
    return _list(params)


@bp.post("/task")
def task_query() -> ResponseReturnValue:
    Params.query().only(PAGING)
    return _list(Params.body().only((*_FILTERS, "sorting"), _ACCEPTED))


def _list(params: Params) -> ResponseReturnValue:
    views = services().queries.tasks(_filter(params), params.sorting(TASK_SORTS), window())
    return jsonify([dto.task(v) for v in views])


@bp.get("/task/count")
def task_count() -> ResponseReturnValue:
    params = Params.query().only(_FILTERS, _ACCEPTED)
    return jsonify(count=services().queries.count_tasks(_filter(params)))


@bp.post("/task/count")
def task_count_query() -> ResponseReturnValue:
    Params.query().only(())
    params = Params.body().only(_FILTERS, (*_ACCEPTED, "sorting"))
    return jsonify(count=services().queries.count_tasks(_filter(params)))


@bp.get("/task/<task_id>")
def task_get(task_id: str) -> ResponseReturnValue:
    Params.query().only((), ("withCommentAttachmentInfo",))
    return jsonify(dto.task(services().queries.task(task_id)))


@bp.post("/task/<task_id>/claim")
def task_claim(task_id: str) -> ResponseReturnValue:
    params = Params.body(allow_empty=False).only(("userId",))
    user_id = params.text("userId")
    if not user_id:
        raise ValidationError("userId is required: name the user who claims the task")
    actor = current_actor()
    runtime = services().engine.runtime
    if user_id == actor.name:
        runtime.claim(task_id, actor)
    else:
        # Claiming for someone else is assigning; only who may assign tasks may do it, and only
        # to a user who exists and may log in (else the task waits for nobody).
        user_id = existing_user(user_id, "userId")
        current = services().queries.task(task_id)
        if current.assignee is not None and current.assignee != user_id:
            raise Conflict(f"Task '{task_id}' is already claimed by someone else.")
        runtime.assign(task_id, user_id, actor)
    return "", 204


@bp.post("/task/<task_id>/unclaim")
def task_unclaim(task_id: str) -> ResponseReturnValue:
    Params.body().only(())
    services().engine.runtime.unclaim(task_id, current_actor())
    return "", 204


@bp.post("/task/<task_id>/complete")
def task_complete(task_id: str) -> ResponseReturnValue:
    return _complete(task_id)


@bp.post("/task/<task_id>/submit-form")
def task_submit_form(task_id: str) -> ResponseReturnValue:
    # Forms are validated on completion either way: the engine checks every submission.
    return _complete(task_id)


def _complete(task_id: str) -> ResponseReturnValue:
    params = Params.body().only(("variables", "withVariablesInReturn"))
    variables = from_camunda(params.values.get("variables"))
    queries = services().queries
    instance_id = queries.task(task_id).instance_id
    services().engine.runtime.complete_task(task_id, variables, current_actor())
    if not params.flag("withVariablesInReturn"):
        return "", 204
    return jsonify(to_camunda(queries.instance_state(instance_id).variables))
