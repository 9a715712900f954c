"""Process instances (cases): start, list, show, cancel, suspend, resume, change variables, and history."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from engine.actors import require_may_manage_cases
from engine.errors import FieldError, ValidationError
from engine.queries import HISTORY_SORT, INSTANCE_SORT, HistoryFilter, InstanceFilter

from ..auth import current_actor
from ..openapi import Param, Reply, operation
from .common import created, engine
from .params import json_body, page_request, paging, query_args
from .schemas import BOOLEAN, TIME, VARIABLES, nullable, obj, ref, text

bp = Blueprint("instances", __name__)
TAG = "Instances"
SORT_KEYS = list(INSTANCE_SORT)
# Every CRM process keeps the customer it serves in this variable (docs/processes.md).
CUSTOMER_VARIABLE = "customer_id"
HISTORY_KEYS = list(HISTORY_SORT)

_START = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "process_key": text(),
        "definition_id": text(),
        "business_key": nullable(text()),
        "variables": VARIABLES,
    },
    "description": "Give process_key (starts its latest version) or definition_id (that version)",
}


@bp.post("/instances")
@operation(
    "Start a process instance",
    tag=TAG,
    body=_START,
    responses={201: Reply("The new instance, with its first tasks", ref("InstanceDetail"))},
    errors=(403, 404),
)
def start() -> ResponseReturnValue:
    body = json_body()
    key, definition_id = body.get("process_key"), body.get("definition_id")
    if bool(key) == bool(definition_id):
        raise ValidationError(
            "Give either process_key or definition_id",
            [FieldError("process_key", "give this or definition_id, not both or neither")],
        )
    eng = engine()
    instance_id = eng.runtime.start(
        actor=current_actor(),
        process_key=key,
        definition_id=definition_id,
        business_key=body.get("business_key"),
        variables=body.get("variables"),
    )
    location = f"{request.script_root}/api/v1/instances/{instance_id}"
    return created(eng.queries.instance(instance_id, eng.clock.now()), location)


@bp.get("/instances")
@operation(
    "List process instances",
    tag=TAG,
    query=(
        Param("process_key", text(), "Only instances of this process"),
        Param(
            "status", {"type": "string", "enum": ["running", "completed", "cancelled"]}, "Only in this state"
        ),
        Param("business_key", text(), "Only the instance(s) of this case"),
        Param("customer", text(64), f"Only cases of this customer (variable {CUSTOMER_VARIABLE})"),
        Param("started_after", TIME, "Started at or after this time"),
        Param("started_before", TIME, "Started before this time"),
        Param("suspended", BOOLEAN, "Only suspended (true) or active (false) instances"),
        Param("with_incidents", BOOLEAN, "Only instances with (true) or without (false) open incidents"),
        *paging(SORT_KEYS, "-started_at"),
    ),
    responses={200: Reply("A page of instances", ref("InstancePage"))},
)
def list_instances() -> ResponseReturnValue:
    args = query_args()
    where = InstanceFilter(
        process_key=args["process_key"],
        status=args["status"],
        business_key=args["business_key"],
        started_after=args["started_after"],
        started_before=args["started_before"],
        suspended=args["suspended"],
        with_incidents=args["with_incidents"],
        variables=((CUSTOMER_VARIABLE, args["customer"]),) if args["customer"] else (),
    )
    return jsonify(engine().queries.instance_page(where, page_request(args, SORT_KEYS)).to_dict())


@bp.get("/instances/<instance_id>")
@operation(
    "One instance with its variables, open tasks and open incidents",
    tag=TAG,
    responses={200: Reply("The instance", ref("InstanceDetail"))},
    errors=(404,),
)
def show(instance_id: str) -> ResponseReturnValue:
    eng = engine()
    return jsonify(eng.queries.instance(instance_id, eng.clock.now()))


_CANCEL = obj({"reason": nullable(text(2000))}, optional=("reason",))
_COMMAND_ERRORS = (403, 404, 409)


@bp.post("/instances/<instance_id>/cancel")
@operation(
    "Cancel a running instance (service manager, director, admin)",
    tag=TAG,
    body=_CANCEL,
    body_required=False,
    responses={200: Reply("The cancelled instance", ref("InstanceDetail"))},
    errors=_COMMAND_ERRORS,
)
def cancel(instance_id: str) -> ResponseReturnValue:
    body = json_body()
    actor = current_actor()
    require_may_manage_cases(actor, "cancel cases")
    eng = engine()
    eng.runtime.cancel(instance_id, actor, body.get("reason"))
    return jsonify(eng.queries.instance(instance_id, eng.clock.now()))


@bp.post("/instances/<instance_id>/suspend")
@operation(
    "Suspend a running instance: its tasks cannot be completed until it is resumed",
    tag=TAG,
    responses={200: Reply("The suspended instance", ref("InstanceDetail"))},
    errors=_COMMAND_ERRORS,
)
def suspend(instance_id: str) -> ResponseReturnValue:
    actor = current_actor()
    require_may_manage_cases(actor, "suspend cases")
    eng = engine()
    eng.runtime.suspend(instance_id, actor)
    return jsonify(eng.queries.instance(instance_id, eng.clock.now()))


@bp.post("/instances/<instance_id>/resume")
@operation(
    "Resume a suspended instance",
    tag=TAG,
    responses={200: Reply("The resumed instance", ref("InstanceDetail"))},
    errors=_COMMAND_ERRORS,
)
def resume(instance_id: str) -> ResponseReturnValue:
    actor = current_actor()
    require_may_manage_cases(actor, "resume cases")
    eng = engine()
    eng.runtime.resume(instance_id, actor)
    return jsonify(eng.queries.instance(instance_id, eng.clock.now()))


_CHANGE_VARIABLES = obj(
    {"set": VARIABLES, "remove": {"type": "array", "items": text(), "uniqueItems": True}},
    optional=("set", "remove"),
)


@bp.patch("/instances/<instance_id>/variables")
@operation(
    "Set and remove a running case's variables, to repair a case stalled on its data "
    "(service manager, director, admin); the history keeps the old values",
    tag=TAG,
    body=_CHANGE_VARIABLES,
    responses={200: Reply("The instance with its variables as changed", ref("InstanceDetail"))},
    errors=_COMMAND_ERRORS,
)
def change_variables(instance_id: str) -> ResponseReturnValue:
    body = json_body()
    eng = engine()
    eng.runtime.change_variables(instance_id, current_actor(), body.get("set"), body.get("remove"))
    return jsonify(eng.queries.instance(instance_id, eng.clock.now()))


@bp.get("/instances/<instance_id>/history")
@operation(
    "The audit history of one instance",
    tag=TAG,
    query=paging(HISTORY_KEYS, "at"),
    responses={200: Reply("A page of history events", ref("HistoryPage"))},
    errors=(404,),
)
def instance_history(instance_id: str) -> ResponseReturnValue:
    args = query_args()
    eng = engine()
    eng.queries.instance(instance_id)  # 404 for an unknown instance rather than an empty page
    page = eng.queries.history_page(HistoryFilter(instance_id=instance_id), page_request(args, HISTORY_KEYS))
    return jsonify(page.to_dict())
