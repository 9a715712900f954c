"""User tasks: inboxes, the task with its form and deadline, and the commands staff give."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from engine.errors import FieldError, ValidationError
from engine.queries import TASK_SORT, TaskFilter

from ..auth import current_actor, users
from ..openapi import Param, Reply, operation
from .common import engine
from .params import json_body, page_request, paging, query_args
from .schemas import TIME, VARIABLES, nullable, obj, ref, text

bp = Blueprint("tasks", __name__)
TAG = "Tasks"
SORT_KEYS = list(TASK_SORT)
SCOPES = ["inbox", "mine", "claimable", "unassigned", "all"]
_COMMAND_ERRORS = (403, 404, 409)


@bp.get("/tasks")
@operation(
    "List open user tasks: my inbox, mine, my roles' claimable tasks, unassigned ones, or all",
    tag=TAG,
    description="scope=inbox (default): assigned to me, or unassigned and mine to take by role or "
    "as a candidate; mine: assigned to me; claimable: unassigned and mine to take; unassigned: every "
    "unassigned task; all: every open task.",
    query=(
        Param("scope", {"type": "string", "enum": SCOPES, "default": "inbox"}, "Which tasks"),
        Param("process_key", text(), "Only tasks of this process"),
        Param("role", text(64), "Only tasks of this role (lane)"),
        Param("instance_id", text(), "Only tasks of this instance"),
        Param("business_key", text(), "Only tasks of this case"),
        Param("due_before", TIME, "Only tasks due at or before this time"),
        Param(
            "min_priority",
            {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "Only tasks of at least this priority",
        ),
        *paging(SORT_KEYS, "-priority,created_at"),
    ),
    responses={200: Reply("A page of tasks", ref("TaskPage"))},
)
def list_tasks() -> ResponseReturnValue:
    args = query_args()
    actor = current_actor()
    me = (actor.name, tuple(sorted(actor.roles)))
    scope = args["scope"] or "inbox"
    where = TaskFilter(
        assignee=actor.name if scope == "mine" else None,
        inbox_of=me if scope == "inbox" else None,
        claimable_by=me if scope == "claimable" else None,
        unassigned=scope == "unassigned",
        process_key=args["process_key"],
        role=args["role"],
        instance_id=args["instance_id"],
        business_key=args["business_key"],
        due_before=args["due_before"],
        min_priority=args["min_priority"],
    )
    eng = engine()
    return jsonify(eng.queries.task_page(where, page_request(args, SORT_KEYS), eng.clock.now()).to_dict())


@bp.get("/tasks/<task_id>")
@operation(
    "One task with its form (fields, options, current values) and deadline",
    tag=TAG,
    responses={200: Reply("The task", ref("TaskDetail"))},
    errors=(404,),
)
def show(task_id: str) -> ResponseReturnValue:
    eng = engine()
    return jsonify(eng.queries.task(task_id, eng.clock.now()))


def _task(task_id: str) -> dict[str, Any]:
    eng = engine()
    return eng.queries.task(task_id, eng.clock.now())


@bp.post("/tasks/<task_id>/claim")
@operation(
    "Claim an unassigned task (a member of its role, or a candidate user)",
    tag=TAG,
    responses={200: Reply("The claimed task", ref("TaskDetail"))},
    errors=_COMMAND_ERRORS,
)
def claim(task_id: str) -> ResponseReturnValue:
    engine().runtime.claim(task_id, current_actor())
    return jsonify(_task(task_id))


@bp.post("/tasks/<task_id>/unclaim")
@operation(
    "Give a claimed task back to its role",
    tag=TAG,
    responses={200: Reply("The task, unassigned", ref("TaskDetail"))},
    errors=_COMMAND_ERRORS,
)
def unclaim(task_id: str) -> ResponseReturnValue:
    engine().runtime.unclaim(task_id, current_actor())
    return jsonify(_task(task_id))


def existing_user(name: Any, field: str) -> str:
    account = users().account_by_name(name) if isinstance(name, str) else None
    if account is None or not account.active:
        raise ValidationError(
            f"No active user named {name!r}", [FieldError(field, f"no active user {name!r}")]
        )
    return account.name


@bp.post("/tasks/<task_id>/assign")
@operation(
    "Assign a task to a user, or unassign it with null (service manager, director, admin, or its assignee)",
    tag=TAG,
    body=obj({"assignee": nullable(text(64))}),
    responses={200: Reply("The task", ref("TaskDetail"))},
    errors=_COMMAND_ERRORS,
)
def assign(task_id: str) -> ResponseReturnValue:
    body = json_body()
    assignee = body["assignee"]
    if assignee is not None:
        assignee = existing_user(assignee, "assignee")
    engine().runtime.assign(task_id, assignee, current_actor())
    return jsonify(_task(task_id))


@bp.post("/tasks/<task_id>/delegate")
@operation(
    "Delegate my task to someone else; I stay its owner",
    tag=TAG,
    body=obj({"to": text(64)}),
    responses={200: Reply("The task", ref("TaskDetail"))},
    errors=_COMMAND_ERRORS,
)
def delegate(task_id: str) -> ResponseReturnValue:
    body = json_body()
    engine().runtime.delegate(task_id, existing_user(body["to"], "to"), current_actor())
    return jsonify(_task(task_id))


@bp.post("/tasks/<task_id>/complete")
@operation(
    "Complete a task with its form data (its assignee, or unclaimed: a member of its role)",
    tag=TAG,
    description="The data is validated against the task's form on the server; a 422 lists each "
    "field that is not acceptable and nothing is stored.",
    body=obj({"data": VARIABLES}, optional=("data",)),
    responses={
        200: Reply(
            "The completed task and the instance as it is now (with its next open tasks)",
            obj({"task": ref("Task"), "instance": ref("InstanceDetail")}),
        )
    },
    errors=_COMMAND_ERRORS,
)
def complete(task_id: str) -> ResponseReturnValue:
    body = json_body()
    eng = engine()
    eng.runtime.complete_task(task_id, body.get("data") or {}, current_actor())
    task = eng.queries.task(task_id, eng.clock.now(), with_form=False)
    instance = eng.queries.instance(task["instance_id"], eng.clock.now())
    return jsonify(task=task, instance=instance)
