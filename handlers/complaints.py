"""Complaints (§3): the complaint record from receipt to closing, and complaints that a
dissatisfied callback opens.

A dissatisfied callback throws the ``new_complaint`` message (callback.bpmn, payload
``new_complaint_request``); the engine starts a complaint with the payload as its variables and
``open_complaint_from_callback`` fills in what the agent's intake form needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.handler_registry import HandlerContext, HandlerRegistry

from . import notify
from . import variables as v
from .customers import DEFAULT_TIER, contact_for, find_customer
from .dates import stamp
from .numbering import COMPLAINT, next_number
from .records import CaseNote, Complaint

DIRECT = "direct"
FROM_CALLBACK = "callback"
# Where an engine may have put the message payload instead of spreading it into variables.
_PAYLOAD_KEYS = ("new_complaint_request", "complaint_request")
_INTAKE_KEYS = (
    "customer_id",
    "channel",
    "category",
    "description",
    "severity",
    "origin_case_type",
    "origin_case_id",
    "customer_tier",
)


def complaint_category_for(case_type: str | None) -> str:
    """The intake category a follow-up complaint starts with."""
    return "repair_quality" if case_type == "repair" else "other"


def _payload(variables: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in _PAYLOAD_KEYS:
        nested = variables.get(key)
        if isinstance(nested, Mapping):
            found.update(nested)
    found.update({k: variables[k] for k in _INTAKE_KEYS if variables.get(k) not in (None, "")})
    return found


def open_complaint_from_callback(ctx: HandlerContext) -> dict[str, Any]:
    """Prefill the intake of a complaint opened by a dissatisfied callback; note it on the old case."""
    data = _payload(ctx.variables)
    origin_type = data.get("origin_case_type")
    origin_id = data.get("origin_case_id")
    description = data.get("description") or (
        f"Customer dissatisfied at the callback on {origin_type} {origin_id}"
        if origin_id
        else "Customer dissatisfied at a callback"
    )
    if origin_type and origin_id:
        ctx.session.add(
            CaseNote(
                case_type=str(origin_type),
                case_id=str(origin_id),
                at=ctx.now,
                author=ctx.actor,
                text=f"Follow-up complaint opened from the callback (process instance {ctx.instance_id}).",
            )
        )
    customer_id = v.text(data, "customer_id")
    # The intake task's deadline is planned when it opens, before the customer is looked up:
    # without the tier here it would get the default instead of the customer's (sla.toml).
    customer = find_customer(ctx.session, customer_id)
    tier = (customer.tier or DEFAULT_TIER) if customer is not None else data.get("customer_tier")
    return {
        "customer_id": customer_id,
        "customer_tier": tier,
        "channel": data.get("channel") or "phone",
        "category": data.get("category") or complaint_category_for(origin_type),
        "description": description,
        "severity": data.get("severity") or "medium",
        "origin": FROM_CALLBACK,
        "origin_case_type": origin_type,
        "origin_case_id": origin_id,
    }


def _complaint(ctx: HandlerContext) -> Complaint:
    number = v.text(ctx.variables, "complaint_no")
    complaint = ctx.session.get(Complaint, number)
    if complaint is None:
        raise v.CaseDataError(f"No complaint {number!r}")
    return complaint


def register_complaint(ctx: HandlerContext) -> dict[str, Any]:
    """Record the complaint as received (§3.1) and send the customer the receipt."""
    variables = ctx.variables
    origin = v.optional_text(variables, "origin") or DIRECT
    fields = {
        "customer_id": v.text(variables, "customer_id"),
        "channel": v.text(variables, "channel"),
        "category": v.text(variables, "category"),
        "description": v.text(variables, "description"),
        "severity": v.text(variables, "severity"),
        "origin": origin,
        "origin_case_type": v.optional_text(variables, "origin_case_type"),
        "origin_case_id": v.optional_text(variables, "origin_case_id"),
    }
    number = v.optional_text(variables, "complaint_no")
    complaint = ctx.session.get(Complaint, number) if number else None
    if complaint is None:
        complaint = Complaint(
            complaint_no=next_number(ctx.session, COMPLAINT, ctx.now),
            instance_id=ctx.instance_id,
            status="received",
            received_at=ctx.now,
            **fields,
        )
        ctx.session.add(complaint)
        notify.to_customer(
            ctx,
            contact_for(ctx),
            "complaint_received",
            f"We received your complaint {complaint.complaint_no}",
            f"Dear {variables.get('customer_name') or 'customer'}, we have recorded your complaint "
            f"{complaint.complaint_no} ({fields['category']}) and will get back to you.",
            notify.case_of(ctx, "complaint", complaint.complaint_no),
        )
    else:
        for name, value in fields.items():
            setattr(complaint, name, value)
    return {
        "complaint_no": complaint.complaint_no,
        "case_type": "complaint",
        "case_id": complaint.complaint_no,
        "received_at": stamp(complaint.received_at),
        "complaint_status": complaint.status,
        "origin": origin,
        "escalated": complaint.escalated_at is not None,
        # Defined before the resolution form, so the "Compensation due?" gateway always finds it.
        "compensation_due": v.flag(variables, "compensation_due"),
    }


def escalate_complaint(ctx: HandlerContext) -> dict[str, Any]:
    """Not resolved in time: mark it escalated and alert the service managers."""
    variables = ctx.variables
    complaint = _complaint(ctx)
    complaint.status = "escalated"
    complaint.escalated_at = ctx.now
    notify.to_role(
        ctx,
        "service_manager",
        "complaint_escalated",
        f"Complaint {complaint.complaint_no} not resolved in time",
        f"Complaint {complaint.complaint_no} of {variables.get('customer_name')} (priority "
        f"{variables.get('priority')}, received {variables.get('received_at')}) is not resolved in time.",
        notify.case_of(ctx, "complaint", complaint.complaint_no),
    )
    return {"escalated": True, "escalated_at": stamp(ctx.now), "complaint_status": "escalated"}


# The actions of the escalation form (forms/complaint_escalation.form), as the handler reads them.
_ESCALATION_ACTIONS = {
    "expedite": "Expedite with the current handler",
    "reassign": "Reassign to another handler",
    "contact_customer": "The service manager contacts the customer",
    "compensation_review": "Review for compensation",
}


def forward_escalation_instruction(ctx: HandlerContext) -> dict[str, Any]:
    """The service manager's decision on an escalated complaint reaches the complaint handlers.

    The escalation runs on a branch of its own whose variables never reach the handler's task,
    so the instruction goes to the complaint handlers' inbox and is noted on the complaint.
    """
    variables = ctx.variables
    complaint = _complaint(ctx)
    action = v.text(variables, "escalation_action")
    instruction = v.text(variables, "escalation_instruction")
    decision = f"{_ESCALATION_ACTIONS.get(action, action)}: {instruction}"
    ctx.session.add(
        CaseNote(
            case_type="complaint",
            case_id=complaint.complaint_no,
            at=ctx.now,
            author=ctx.actor,
            text=f"Escalation handled by {ctx.actor}. {decision}",
        )
    )
    notify.to_role(
        ctx,
        "complaint_handler",
        "complaint_escalation_instruction",
        f"Escalated complaint {complaint.complaint_no}: instruction from {ctx.actor}",
        f"Complaint {complaint.complaint_no} of {variables.get('customer_name') or complaint.customer_id} "
        f"(priority {variables.get('priority')}) was escalated. {decision}",
        notify.case_of(ctx, "complaint", complaint.complaint_no),
    )
    return {"escalation_forwarded_at": stamp(ctx.now), "escalation_handled_by": ctx.actor}


def _outcome_text(variables: Mapping[str, Any]) -> str:
    verdict = {
        "founded": "Your complaint is justified.",
        "partly_founded": "Your complaint is partly justified.",
        "unfounded": "After checking the facts we found no fault on our side.",
    }.get(str(variables.get("complaint_valid")), "")
    parts = [verdict, f"Our solution: {variables.get('resolution')}"]
    status = variables.get("compensation_status")
    if status == "approved":
        parts.append(f"A compensation of {variables.get('compensation_amount')} has been approved.")
    elif status == "rejected":
        parts.append(f"The compensation was not approved: {variables.get('compensation_rejection_reason')}")
    return " ".join(p for p in parts if p)


def notify_complaint_outcome(ctx: HandlerContext) -> dict[str, Any]:
    """Tell the customer what was found and done, with the compensation decision if one ran."""
    variables = ctx.variables
    complaint = _complaint(ctx)
    complaint.complaint_valid = v.optional_text(variables, "complaint_valid")
    complaint.resolution = v.optional_text(variables, "resolution")
    complaint.compensation_status = v.optional_text(variables, "compensation_status")
    notify.to_customer(
        ctx,
        contact_for(ctx),
        "complaint_outcome",
        f"Your complaint {complaint.complaint_no}: our answer",
        f"Dear {variables.get('customer_name') or 'customer'}, {_outcome_text(variables)}",
        notify.case_of(ctx, "complaint", complaint.complaint_no),
    )
    return {"customer_notified_at": stamp(ctx.now)}


def close_complaint(ctx: HandlerContext) -> dict[str, Any]:
    """Close it, recording whether it was resolved on first contact (doc 003) and not escalated."""
    variables = ctx.variables
    complaint = _complaint(ctx)
    # The escalation runs on a parallel branch whose variables never reach this one: ask the record.
    escalated = complaint.escalated_at is not None or v.flag(variables, "escalated")
    first_contact = v.flag(variables, "resolved_first_contact") and not escalated
    complaint.status = "closed"
    complaint.closed_at = ctx.now
    complaint.first_contact_resolution = first_contact
    return {
        "complaint_status": "closed",
        "closed_at": stamp(ctx.now),
        "escalated": escalated,
        "first_contact_resolution": first_contact,
    }


def register(registry: HandlerRegistry) -> None:
    registry.register("open_complaint_from_callback", open_complaint_from_callback)
    registry.register("register_complaint", register_complaint)
    registry.register("escalate_complaint", escalate_complaint)
    registry.register("forward_escalation_instruction", forward_escalation_instruction)
    registry.register("notify_complaint_outcome", notify_complaint_outcome)
    registry.register("close_complaint", close_complaint)
