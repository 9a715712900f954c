"""Incidents: service tasks that failed after their retries; retried once the cause is fixed."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from engine.actors import require_may_manage_cases
from engine.queries import INCIDENT_SORT

from ..auth import current_actor
from ..openapi import Param, Reply, operation
from .common import engine
from .params import page_request, paging, query_args
from .schemas import ref, text

bp = Blueprint("incidents", __name__)
TAG = "Incidents"
SORT_KEYS = list(INCIDENT_SORT)


@bp.get("/incidents")
@operation(
    "List incidents",
    tag=TAG,
    query=(
        Param("instance_id", text(), "Only incidents of this instance"),
        Param(
            "state",
            {"type": "string", "enum": ["open", "resolved", "all"], "default": "open"},
            "Open (default), resolved, or all",
        ),
        *paging(SORT_KEYS, "created_at"),
    ),
    responses={200: Reply("A page of incidents", ref("IncidentPage"))},
)
def list_incidents() -> ResponseReturnValue:
    args = query_args()
    state = args["state"] or "open"
    page = engine().queries.incident_page(
        page_request(args, SORT_KEYS),
        instance_id=args["instance_id"],
        state=None if state == "all" else state,
    )
    return jsonify(page.to_dict())


@bp.get("/incidents/<incident_id>")
@operation("One incident", tag=TAG, responses={200: Reply("The incident", ref("Incident"))}, errors=(404,))
def show_incident(incident_id: str) -> ResponseReturnValue:
    return jsonify(engine().queries.incident(incident_id))


@bp.post("/incidents/<incident_id>/retry")
@operation(
    "Retry the failed service task of an incident (service manager, director, admin)",
    tag=TAG,
    description="The incident is resolved and the task runs again in the same transaction; if it "
    "fails again after its retries, a new incident opens.",
    responses={200: Reply("The resolved incident", ref("Incident"))},
    errors=(403, 404, 409),
)
def retry(incident_id: str) -> ResponseReturnValue:
    actor = current_actor()
    require_may_manage_cases(actor, "retry incidents")
    eng = engine()
    eng.runtime.retry_incident(incident_id, actor)
    return jsonify(eng.queries.incident(incident_id))
