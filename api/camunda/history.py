"""``/history``: what happened to a process instance, its activities and its user tasks."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from engine.camunda_history import ACTIVITY_SORTS, HISTORIC_TASK_SORTS, ActivityFilter, HistoricTaskFilter
from engine.camunda_queries import Window

from . import bp, dto, services
from .params import PAGING, SORTING, Params, window


@bp.get("/history/process-instance/<instance_id>")
def historic_instance(instance_id: str) -> ResponseReturnValue:
    Params.query().only(())
    return jsonify(dto.historic_instance(services().history.instance(instance_id)))


_ACTIVITY_FILTERS = (
    "activityInstanceId",
    "processInstanceId",
    "processDefinitionId",
    "executionId",
    "activityId",
    "activityName",
    "activityType",
    "taskAssignee",
    "finished",
    "unfinished",
    "canceled",
    "completeScope",
    "startedBefore",
    "startedAfter",
    "finishedBefore",
    "finishedAfter",
)


def _activity_filter(params: Params) -> ActivityFilter:
    instance_id = params.text("processInstanceId")
    execution_id = params.text("executionId")  # an instance's only execution is the instance itself
    if instance_id is not None and execution_id is not None and instance_id != execution_id:
        instance_id = "(two different instances)"  # matches no instance, as the question asks
    return ActivityFilter(
        activity_instance_id=params.text("activityInstanceId"),
        instance_id=instance_id or execution_id,
        definition_id=params.text("processDefinitionId"),
        activity_id=params.text("activityId"),
        activity_name=params.text("activityName"),
        activity_type=params.text("activityType"),
        task_assignee=params.text("taskAssignee"),
        finished=params.flag("finished"),
        unfinished=params.flag("unfinished"),
        canceled=params.flag("canceled"),
        complete_scope=params.flag("completeScope"),
        started_before=params.date("startedBefore"),
        started_after=params.date("startedAfter"),
        finished_before=params.date("finishedBefore"),
        finished_after=params.date("finishedAfter"),
    )


@bp.get("/history/activity-instance")
def activity_list() -> ResponseReturnValue:
    params = Params.query().only((*_ACTIVITY_FILTERS, *SORTING, *PAGING), ("withoutTenantId",))
    return _activities(params)


@bp.post("/history/activity-instance")
def activity_query() -> ResponseReturnValue:
    Params.query().only(PAGING)
    return _activities(Params.body().only((*_ACTIVITY_FILTERS, "sorting"), ("withoutTenantId",)))


def _activities(params: Params) -> ResponseReturnValue:
    found = services().history.activity_instances(
        _activity_filter(params), params.sorting(ACTIVITY_SORTS), window()
    )
    return jsonify([dto.activity(a) for a in found])


@bp.get("/history/activity-instance/count")
def activity_count() -> ResponseReturnValue:
    params = Params.query().only(_ACTIVITY_FILTERS, ("withoutTenantId",))
    return jsonify(count=len(services().history.activity_instances(_activity_filter(params), [], Window())))


@bp.post("/history/activity-instance/count")
def activity_count_query() -> ResponseReturnValue:
    Params.query().only(())
    params = Params.body().only(_ACTIVITY_FILTERS, ("withoutTenantId", "sorting"))
    return jsonify(count=len(services().history.activity_instances(_activity_filter(params), [], Window())))


_TASK_FILTERS = (
    "taskId",
    "processInstanceId",
    "processInstanceBusinessKey",
    "processDefinitionId",
    "processDefinitionKey",
    "taskDefinitionKey",
    "taskName",
    "taskNameLike",
    "taskAssignee",
    "taskAssigneeLike",
    "taskOwner",
    "taskPriority",
    "assigned",
    "unassigned",
    "finished",
    "unfinished",
    "taskHadCandidateGroup",
    "taskDueDateBefore",
    "taskDueDateAfter",
    "startedBefore",
    "startedAfter",
    "finishedBefore",
    "finishedAfter",
)


def _task_filter(params: Params) -> HistoricTaskFilter:
    return HistoricTaskFilter(
        task_id=params.text("taskId"),
        instance_id=params.text("processInstanceId"),
        business_key=params.text("processInstanceBusinessKey"),
        definition_id=params.text("processDefinitionId"),
        definition_key=params.text("processDefinitionKey"),
        element_id=params.text("taskDefinitionKey"),
        name=params.text("taskName"),
        name_like=params.text("taskNameLike"),
        assignee=params.text("taskAssignee"),
        assignee_like=params.text("taskAssigneeLike"),
        owner=params.text("taskOwner"),
        priority=params.integer("taskPriority"),
        assigned=params.flag("assigned"),
        unassigned=params.flag("unassigned"),
        finished=params.flag("finished"),
        unfinished=params.flag("unfinished"),
        had_candidate_group=params.text("taskHadCandidateGroup"),
        due_before=params.date("taskDueDateBefore"),
        due_after=params.date("taskDueDateAfter"),
        started_before=params.date("startedBefore"),
        started_after=params.date("startedAfter"),
        finished_before=params.date("finishedBefore"),
        finished_after=params.date("finishedAfter"),
    )


@bp.get("/history/task")
def historic_task_list() -> ResponseReturnValue:
    params = Params.query().only((*_TASK_FILTERS, *SORTING, *PAGING), ("withoutTenantId",))
    return _historic_tasks(params)


@bp.post("/history/task")
def historic_task_query() -> ResponseReturnValue:
    Params.query().only(PAGING)
    return _historic_tasks(Params.body().only((*_TASK_FILTERS, "sorting"), ("withoutTenantId",)))


def _historic_tasks(params: Params) -> ResponseReturnValue:
    found = services().history.historic_tasks(
        _task_filter(params), params.sorting(HISTORIC_TASK_SORTS), window()
    )
    return jsonify([dto.historic_task(t) for t in found])


@bp.get("/history/task/count")
def historic_task_count() -> ResponseReturnValue:
    params = Params.query().only(_TASK_FILTERS, ("withoutTenantId",))
    return jsonify(count=services().history.count_historic_tasks(_task_filter(params)))


@bp.post("/history/task/count")
def historic_task_count_query() -> ResponseReturnValue:
    Params.query().only(())
    params = Params.body().only(_TASK_FILTERS, ("withoutTenantId", "sorting"))
    return jsonify(count=services().history.count_historic_tasks(_task_filter(params)))
