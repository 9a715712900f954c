"""Deadline alarms (reminders, warnings, breaches, escalations) raised by the scheduler (§5)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from engine.errors import NotFound
from engine.scheduler.alarm_book import ALARM_SORT, STAGES

from ..auth import current_actor
from ..openapi import Param, Reply, operation
from .common import engine
from .params import json_body, page_request, paging, query_args
from .schemas import BOOLEAN, nullable, obj, ref, text

bp = Blueprint("alarms", __name__)
TAG = "Alarms"
SORT_KEYS = list(ALARM_SORT)
# Alarm ids are database integers; anything else (or larger) names no alarm.
MAX_ID = 2**31 - 1


def _alarm_id(raw: str) -> int:
    if not raw.isdigit() or int(raw) > MAX_ID:
        raise NotFound(f"No alarm with id {raw!r}")
    return int(raw)


@bp.get("/alarms")
@operation(
    "List alarms, newest first",
    tag=TAG,
    query=(
        Param("open", BOOLEAN, "Only alarms nobody acknowledged (true) or only acknowledged ones (false)"),
        Param("stage", {"type": "string", "enum": list(STAGES)}, "Only this stage"),
        Param("role", text(64), "Alarms of tasks of this role, told to it, or escalated to it"),
        Param("mine", BOOLEAN, "Only alarms told to me or to one of my roles"),
        Param("instance_id", text(), "Only alarms of this instance"),
        Param("task_id", text(), "Only alarms of this task"),
        *paging(SORT_KEYS, "-raised_at"),
    ),
    responses={200: Reply("A page of alarms", ref("AlarmPage"))},
)
def list_alarms() -> ResponseReturnValue:
    args = query_args()
    acknowledged = None if args["open"] is None else not args["open"]
    page = engine().alarms.alarm_page(
        page_request(args, SORT_KEYS),
        acknowledged=acknowledged,
        stage=args["stage"],
        role=args["role"],
        told=current_actor() if args["mine"] else None,
        instance_id=args["instance_id"],
        task_id=args["task_id"],
    )
    return jsonify(page.to_dict())


@bp.get("/alarms/<alarm_id>")
@operation("One alarm", tag=TAG, responses={200: Reply("The alarm", ref("Alarm"))}, errors=(404,))
def show_alarm(alarm_id: str) -> ResponseReturnValue:
    return jsonify(engine().alarms.alarm(_alarm_id(alarm_id)))


@bp.post("/alarms/<alarm_id>/acknowledge")
@operation(
    "Acknowledge an alarm: I have taken notice (those it was sent to, and case managers; once)",
    tag=TAG,
    body=obj({"note": nullable(text(2000))}, optional=("note",)),
    body_required=False,
    responses={200: Reply("The acknowledged alarm", ref("Alarm"))},
    errors=(403, 404, 409),
)
def acknowledge(alarm_id: str) -> ResponseReturnValue:
    body = json_body()
    number = _alarm_id(alarm_id)
    return jsonify(engine().alarms.acknowledge(number, current_actor(), body.get("note")))


@bp.get("/tasks/<task_id>/deadline")
@operation(
    "Where a task's deadline stands: time left in working hours, pauses, each warning stage",
    tag="Tasks",
    responses={200: Reply("The deadline", ref("Deadline"))},
    errors=(404,),
)
def deadline(task_id: str) -> ResponseReturnValue:
    return jsonify(engine().alarms.deadline(task_id))
