"""Compensation approval (§7): the application record, the decision, and the payment order.

Who must approve what amount is a decision table a designer edits (compensation_approval.dmn);
these handlers only record and communicate what the people decided.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.handler_registry import HandlerContext, HandlerRegistry

from . import notify
from . import variables as v
from .customers import contact, contact_for, require_customer
from .dates import stamp
from .numbering import COMPENSATION, PAYMENT_ORDER, next_number
from .records import Compensation, PaymentOrder


def _compensation(ctx: HandlerContext) -> Compensation:
    number = v.text(ctx.variables, "compensation_no")
    found = ctx.session.get(Compensation, number)
    if found is None:
        raise v.CaseDataError(f"No compensation {number!r}")
    return found


def _case(ctx: HandlerContext, record: Compensation) -> notify.Case:
    return notify.Case("compensation", record.compensation_no, ctx.instance_id)


def register_compensation(ctx: HandlerContext) -> dict[str, Any]:
    """Record the application (§7.1), once per case; corrections update it."""
    variables = ctx.variables
    customer = require_customer(ctx.session, v.text(variables, "customer_id"))
    case_type = v.text(variables, "case_type")
    fields = {
        "case_type": case_type,
        "case_id": v.optional_text(variables, "case_id") if case_type != "none" else None,
        "customer_id": customer.id,
        "amount": v.number(variables, "compensation_amount"),
        "reason": v.text(variables, "compensation_reason"),
    }
    # The person who submitted the application form is the actor of this step.
    applicant = v.optional_text(variables, "compensation_applicant") or ctx.actor
    number = v.optional_text(variables, "compensation_no")
    record = ctx.session.get(Compensation, number) if number else None
    if record is None:
        record = Compensation(
            compensation_no=next_number(ctx.session, COMPENSATION, ctx.now),
            instance_id=ctx.instance_id,
            status="pending",
            applicant=applicant,
            applied_at=ctx.now,
            **fields,
        )
        ctx.session.add(record)
    else:
        for name, value in fields.items():
            setattr(record, name, value)
    result: dict[str, Any] = {
        "compensation_no": record.compensation_no,
        "compensation_status": "pending",
        "compensation_applicant": record.applicant,
        "compensation_applied_at": stamp(record.applied_at),
    }
    known = contact(customer)
    for key in ("customer_name", "customer_email", "customer_phone", "customer_tier"):
        if not variables.get(key):
            result[key] = known[key]
    return result


def notify_compensation_rejected(ctx: HandlerContext) -> dict[str, Any]:
    """Rejected by the manager or the director (§7.2): record why and tell the applicant."""
    variables = ctx.variables
    record = _compensation(ctx)
    director_rejected = variables.get("director_decision") == "reject"
    reason = v.optional_text(variables, "director_comment" if director_rejected else "manager_comment")
    reason = reason or "no reason given"
    by = "the director" if director_rejected else "the service manager"
    record.status = "rejected"
    record.rejection_reason = reason
    record.decided_at = ctx.now
    notify.to_user_or_role(
        ctx,
        record.applicant,
        "service_manager",
        "compensation_rejected",
        f"Compensation {record.compensation_no} rejected",
        f"The compensation of {record.amount} for {record.case_type} {record.case_id or ''} "
        f"was rejected by {by}: {reason}",
        _case(ctx, record),
    )
    return {
        "compensation_status": "rejected",
        "compensation_rejection_reason": reason,
        "compensation_decided_at": stamp(ctx.now),
    }


def notify_compensation_approved(ctx: HandlerContext) -> dict[str, Any]:
    """Approved (§7.3): record it and tell the customer."""
    variables = ctx.variables
    record = _compensation(ctx)
    record.status = "approved"
    record.decided_at = ctx.now
    case = f" concerning {record.case_type} {record.case_id}" if record.case_id else ""
    notify.to_customer(
        ctx,
        contact_for(ctx),
        "compensation_approved",
        f"Compensation {record.compensation_no} approved",
        f"Dear {variables.get('customer_name') or 'customer'}, we will pay you a compensation of "
        f"{record.amount}{case}. Reason: {record.reason}",
        _case(ctx, record),
    )
    return {"compensation_status": "approved", "compensation_decided_at": stamp(ctx.now)}


def post_compensation_to_finance(ctx: HandlerContext) -> dict[str, Any]:
    """Send finance the payment order (§7.3); one per compensation."""
    variables = ctx.variables
    record = _compensation(ctx)
    director = variables.get("director_decision") == "approve"
    approved_by = (
        f"service manager and director (last: {ctx.actor})" if director else f"service manager {ctx.actor}"
    )
    order = ctx.session.scalars(
        select(PaymentOrder).where(PaymentOrder.compensation_no == record.compensation_no)
    ).first()
    if order is None:
        order = PaymentOrder(
            payment_order_no=next_number(ctx.session, PAYMENT_ORDER, ctx.now),
            compensation_no=record.compensation_no,
            customer_id=record.customer_id,
            amount=record.amount,
            approved_by=approved_by,
            posted_at=ctx.now,
        )
        ctx.session.add(order)
    notify.to_role(
        ctx,
        "finance",
        "payment_order",
        f"Payment order {order.payment_order_no}: compensation {record.compensation_no}",
        f"Pay {record.amount} to customer {record.customer_id} ({variables.get('customer_name')}), "
        f"compensation {record.compensation_no} for {record.case_type} {record.case_id or ''}, "
        f"approved by {approved_by}.",
        _case(ctx, record),
    )
    return {"payment_order_no": order.payment_order_no, "payment_order_posted_at": stamp(order.posted_at)}


def register(registry: HandlerRegistry) -> None:
    registry.register("register_compensation", register_compensation)
    registry.register("notify_compensation_rejected", notify_compensation_rejected)
    registry.register("notify_compensation_approved", notify_compensation_approved)
    registry.register("post_compensation_to_finance", post_compensation_to_finance)
