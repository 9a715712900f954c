"""The audit history: what happened to a case, what someone did, and whether it was altered."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from engine.actors import require_may_audit
from engine.queries import HISTORY_SORT, HistoryFilter

from ..auth import current_actor
from ..openapi import Param, Reply, operation
from .common import engine
from .params import page_request, paging, query_args
from .schemas import TIME, ref, text

bp = Blueprint("history", __name__)
TAG = "History"
SORT_KEYS = list(HISTORY_SORT)


@bp.get("/history")
@operation(
    "Search the audit history",
    tag=TAG,
    description="Anyone signed in may read the history of a case (instance_id or business_key); "
    "searching across cases (by actor, time range, chain) is for auditors and admins.",
    query=(
        Param("instance_id", text(), "Events of this instance"),
        Param("business_key", text(), "Events of this case (every instance with the business key)"),
        Param("actor", text(), "Events by this user or system actor"),
        Param("type", text(64), "Only events of this type (task_completed, user_created, ...)"),
        Param("since", TIME, "At or after this time"),
        Param("until", TIME, "Before this time"),
        Param("chain", text(64), "One chain: an instance id, or 'deployments' or 'admin'"),
        *paging(SORT_KEYS, "at"),
    ),
    responses={200: Reply("A page of events", ref("HistoryPage"))},
    errors=(403,),
)
def search() -> ResponseReturnValue:
    args = query_args()
    if not args["instance_id"] and not args["business_key"]:
        require_may_audit(current_actor(), "search the history across cases")
    where = HistoryFilter(
        instance_id=args["instance_id"],
        business_key=args["business_key"],
        actor=args["actor"],
        event_type=args["type"],
        since=args["since"],
        until=args["until"],
        chain=args["chain"],
    )
    return jsonify(engine().queries.history_page(where, page_request(args, SORT_KEYS)).to_dict())


@bp.get("/history/verify")
@operation(
    "Re-hash the history and report every break (auditors and admins)",
    tag=TAG,
    query=(Param("chain", text(64), "Only this chain (default: all)"),),
    responses={200: Reply("The verification result", ref("ChainVerification"))},
    errors=(403,),
)
def verify() -> ResponseReturnValue:
    args = query_args()
    require_may_audit(current_actor(), "verify the history")
    checked, breaks = engine().queries.verify_history(args["chain"])
    return jsonify(checked=checked, ok=not breaks, breaks=[b.to_dict() for b in breaks])
