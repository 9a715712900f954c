"""Customer callbacks (§4.7): prepare the call, record every attempt, give up after a few.

Every answer is stored (``crm_callback_results``) for the satisfaction and first-contact
statistics (§6). A dissatisfied customer gets a new complaint: this step puts the complaint's
intake data in ``new_complaint_request`` and the diagram throws it as the ``new_complaint``
message, which starts the complaint process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.handler_registry import HandlerContext, HandlerRegistry

from . import notify
from . import variables as v
from .complaints import FROM_CALLBACK, complaint_category_for
from .customers import contact, find_customer
from .dates import stamp
from .records import CallbackResult

MAX_ATTEMPTS = 3
SATISFIED = "satisfied"
DISSATISFIED = "dissatisfied"
UNREACHABLE = "unreachable"
# At or below this satisfaction (1-5) a customer counts as dissatisfied even if the problem is solved.
DISSATISFIED_AT_OR_BELOW = 2


def case_summary(variables: Mapping[str, Any]) -> str:
    """One line for the agent: what the case was and what was done."""
    case_type = variables.get("case_type")
    case_id = variables.get("case_id")
    if case_type == "repair":
        done = variables.get("solution") or "repaired"
        return f"Repair {case_id} of {variables.get('product') or 'the product'}: {done}"
    if case_type == "complaint":
        done = variables.get("resolution") or "resolved"
        return f"Complaint {case_id} ({variables.get('category') or 'complaint'}): {done}"
    return f"{case_type or 'Case'} {case_id or ''}".strip()


def prepare_callback(ctx: HandlerContext) -> dict[str, Any]:
    variables = ctx.variables
    v.text(variables, "case_type")
    v.text(variables, "case_id")
    result: dict[str, Any] = {
        "callback_attempts": 0,
        "callback_max_attempts": MAX_ATTEMPTS,
        "callback_status": "open",
        "case_summary": case_summary(variables),
    }
    customer = find_customer(ctx.session, v.text(variables, "customer_id"))
    if customer is None:
        raise v.CaseDataError(f"No customer with id {variables.get('customer_id')!r} to call back")
    for key, value in contact(customer).items():
        if not variables.get(key):
            result[key] = value
    return result


def outcome_of(reached: bool, problem_solved: str | None, satisfaction: int | None) -> str:
    if not reached:
        return UNREACHABLE
    if problem_solved == "no" or (satisfaction is not None and satisfaction <= DISSATISFIED_AT_OR_BELOW):
        return DISSATISFIED
    return SATISFIED


def record_callback_result(ctx: HandlerContext) -> dict[str, Any]:
    """Store the answer; decide satisfied, dissatisfied (→ new complaint) or unreachable (→ retry)."""
    variables = ctx.variables
    case_type = v.text(variables, "case_type")
    case_id = v.text(variables, "case_id")
    customer_id = v.text(variables, "customer_id")
    attempt = v.integer(variables, "callback_attempts", default=0) + 1
    reached = v.text(variables, "customer_reached") == "yes"
    solved = v.optional_text(variables, "problem_solved") if reached else None
    satisfaction = v.integer(variables, "satisfaction") if reached else None
    comments = (
        v.optional_text(variables, "callback_comments")
        if reached
        else v.optional_text(variables, "unreachable_note")
    )
    outcome = outcome_of(reached, solved, satisfaction)
    ctx.session.add(
        CallbackResult(
            instance_id=ctx.instance_id,
            case_type=case_type,
            case_id=case_id,
            customer_id=customer_id,
            attempt=attempt,
            reached=reached,
            problem_solved=solved,
            satisfaction=satisfaction,
            comments=comments,
            outcome=outcome,
            at=ctx.now,
            agent=ctx.actor,
        )
    )
    status = {SATISFIED: "done", DISSATISFIED: "dissatisfied", UNREACHABLE: "retrying"}[outcome]
    result: dict[str, Any] = {
        "callback_attempts": attempt,
        "callback_outcome": outcome,
        "callback_status": status,
        "callback_at": stamp(ctx.now),
    }
    if outcome == DISSATISFIED:
        result["new_complaint_request"] = {
            "customer_id": customer_id,
            # The follow-up's first task gets its deadline by tier before any look-up runs.
            "customer_tier": v.optional_text(variables, "customer_tier"),
            "channel": "phone",
            "category": complaint_category_for(case_type),
            "description": comments
            or f"Not satisfied with {case_type} {case_id} "
            f"(problem solved: {solved}, satisfaction {satisfaction}/5)",
            "severity": "medium",
            "origin": FROM_CALLBACK,
            "origin_case_type": case_type,
            "origin_case_id": case_id,
        }
    return result


def record_callback_unreachable(ctx: HandlerContext) -> dict[str, Any]:
    """No attempt reached the customer: close the callback and tell the service managers."""
    variables = ctx.variables
    case_type = v.text(variables, "case_type")
    case_id = v.text(variables, "case_id")
    attempts = v.integer(variables, "callback_attempts", default=0)
    notify.to_role(
        ctx,
        "service_manager",
        "callback_unreachable",
        f"No callback reached the customer of {case_type} {case_id}",
        f"{attempts} call(s) to {variables.get('customer_name')} ({variables.get('customer_phone')}) about "
        f"{case_type} {case_id} went unanswered; the case had no successful callback.",
        notify.case_of(ctx, case_type, case_id),
    )
    return {"callback_status": "unreachable", "callback_closed_at": stamp(ctx.now)}


def register(registry: HandlerRegistry) -> None:
    registry.register("prepare_callback", prepare_callback)
    registry.register("record_callback_result", record_callback_result)
    registry.register("record_callback_unreachable", record_callback_unreachable)
