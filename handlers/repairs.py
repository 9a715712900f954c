"""Repair requests and repair orders (§4.1, §4.2, §4.5, §4.7, §4.8): the records of a repair case.

Each handler is safe to run again for the same case (the diagram loops on rework and
reopening): numbers are handed out once and kept in the case variables, records are updated.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from engine.handler_registry import HandlerContext, HandlerRegistry

from . import notify
from . import variables as v
from .agreement_terms import NO_AGREEMENT, covering
from .catalogue import find_model, find_product, in_warranty, part_options, warranty_until
from .customers import contact_for
from .dates import local_day, stamp
from .numbering import REPAIR_ORDER, REPAIR_REQUEST, next_number
from .records import RepairOrder, RepairRequest, Technician

OPEN_REQUEST_STATUSES = ("received", "confirmed")


def _request(ctx: HandlerContext) -> RepairRequest:
    request_no = v.text(ctx.variables, "request_no")
    request = ctx.session.get(RepairRequest, request_no)
    if request is None:
        raise v.CaseDataError(f"No repair request {request_no!r}")
    return request


def _order(ctx: HandlerContext) -> RepairOrder:
    order_no = v.text(ctx.variables, "order_no")
    order = ctx.session.get(RepairOrder, order_no)
    if order is None:
        raise v.CaseDataError(f"No repair order {order_no!r}")
    return order


def _duplicates(ctx: HandlerContext, request: RepairRequest) -> list[dict[str, Any]]:
    rows = ctx.session.scalars(
        select(RepairRequest)
        .where(
            RepairRequest.request_no != request.request_no,
            RepairRequest.status.in_(OPEN_REQUEST_STATUSES),
            or_(
                RepairRequest.serial_number == request.serial_number,
                (RepairRequest.customer_id == request.customer_id)
                & (RepairRequest.product == request.product),
            ),
        )
        .order_by(RepairRequest.requested_at)
    )
    return [
        {"request_no": r.request_no, "status": r.status, "requested_at": stamp(r.requested_at)} for r in rows
    ]


def register_repair_request(ctx: HandlerContext) -> dict[str, Any]:
    """Record the request (§4.1) and point out open requests for the same unit or product."""
    variables = ctx.variables
    fields = {
        "customer_id": v.text(variables, "customer_id"),
        "contact_name": v.text(variables, "contact_name"),
        "contact_phone": v.text(variables, "contact_phone"),
        "product": v.text(variables, "product"),
        "serial_number": v.text(variables, "serial_number"),
        "fault_description": v.text(variables, "fault_description"),
        "service_address": v.text(variables, "service_address"),
    }
    request_no = v.optional_text(variables, "request_no")
    request = ctx.session.get(RepairRequest, request_no) if request_no else None
    if request is None:
        request = RepairRequest(
            request_no=next_number(ctx.session, REPAIR_REQUEST, ctx.now),
            instance_id=ctx.instance_id,
            status="received",
            requested_at=ctx.now,
            **fields,
        )
        ctx.session.add(request)
    else:
        for name, value in fields.items():
            setattr(request, name, value)
    ctx.session.flush()
    duplicates = _duplicates(ctx, request)
    hint = "; ".join(f"{d['request_no']} ({d['status']}, {d['requested_at']})" for d in duplicates) or "none"
    return {
        "request_no": request.request_no,
        "requested_at": stamp(request.requested_at),
        "request_status": request.status,
        "possible_duplicates": duplicates,
        "duplicate_hint": hint,
    }


def notify_request_rejected(ctx: HandlerContext) -> dict[str, Any]:
    """The dispatcher rejected the request as invalid or a duplicate: close it, tell the customer why."""
    variables = ctx.variables
    request = _request(ctx)
    decision = v.text(variables, "request_decision")
    reason = v.text(variables, "rejection_reason")
    duplicate_of = v.optional_text(variables, "duplicate_of") if decision == "duplicate" else None
    request.status = "rejected"
    request.rejection = decision
    request.rejection_reason = reason
    request.duplicate_of = duplicate_of
    request.closed_at = ctx.now
    why = f"it repeats request {duplicate_of}, which we are already handling" if duplicate_of else reason
    notify.to_customer(
        ctx,
        contact_for(ctx),
        "request_rejected",
        f"Your repair request {request.request_no}",
        f"Dear {variables.get('customer_name') or request.contact_name}, we cannot open a repair order for "
        f"request {request.request_no} ({request.product}): {why}."
        + (f" Reason: {reason}" if duplicate_of else ""),
        notify.Case("repair_request", request.request_no, ctx.instance_id),
    )
    return {"request_status": "rejected", "closed_at": stamp(ctx.now)}


def create_repair_order(ctx: HandlerContext) -> dict[str, Any]:
    """Generate the repair order from the confirmed request (§4.2)."""
    variables = ctx.variables
    request = _request(ctx)
    request.status = "confirmed"
    order_no = v.optional_text(variables, "order_no")
    order = ctx.session.get(RepairOrder, order_no) if order_no else None
    if order is None:
        order = RepairOrder(
            order_no=next_number(ctx.session, REPAIR_ORDER, ctx.now),
            request_no=request.request_no,
            instance_id=ctx.instance_id,
            customer_id=request.customer_id,
            product=request.product,
            serial_number=request.serial_number,
            service_address=request.service_address,
            status="open",
            reopen_count=0,
            created_at=ctx.now,
        )
        ctx.session.add(order)
    model = find_model(ctx.session, request.serial_number, request.product)
    return {
        "order_no": order.order_no,
        "case_type": "repair",
        "case_id": order.order_no,
        "order_status": order.status,
        "request_status": "confirmed",
        "spare_part_options": part_options(ctx.session, model),
        "reopen_count": order.reopen_count,
        # Defined before the review form, so the "Compensation due?" gateway always finds it.
        "compensation_due": v.flag(variables, "compensation_due"),
    }


def check_coverage(ctx: HandlerContext) -> dict[str, Any]:
    """Warranty and agreement status of the unit on the day the fault was reported."""
    variables = ctx.variables
    serial = v.optional_text(variables, "serial_number")
    product_text = v.optional_text(variables, "product")
    reported = v.optional_moment(variables, "requested_at") or ctx.now
    on = local_day(reported)
    product = find_product(ctx.session, serial)
    model = find_model(ctx.session, serial, product_text)
    terms = covering(ctx.session, v.text(variables, "customer_id"), on, model, serial, product_text)
    until = warranty_until(product)
    return {
        "warranty_status": "in_warranty" if in_warranty(product, on) else "out_of_warranty",
        "warranty_until": until.isoformat() if until else None,
        "agreement_level": terms.service_level if terms else NO_AGREEMENT,
        "agreement_no": terms.agreement.agreement_no if terms else None,
    }


def reopen_repair_order(ctx: HandlerContext) -> dict[str, Any]:
    """The customer rejected the result (§4.8): the order goes back to the technician."""
    variables = ctx.variables
    order = _order(ctx)
    order.status = "reopened"
    order.reopen_count = (order.reopen_count or 0) + 1
    order.reopened_at = ctx.now
    feedback = v.optional_text(variables, "acceptance_feedback") or "no reason given"
    case = notify.case_of(ctx, "repair", order.order_no)
    subject = f"Repair order {order.order_no} reopened by the customer"
    body = (
        f"The customer did not accept the repair of {order.product} "
        f"(serial {order.serial_number}): {feedback}"
    )
    technician = ctx.session.get(Technician, order.technician_id) if order.technician_id else None
    if technician is not None and technician.user_name:
        notify.to_user(ctx, technician.user_name, "order_reopened", subject, body, case)
    notify.to_role(ctx, "dispatcher", "order_reopened", subject, body, case)
    return {"order_status": "reopened", "reopen_count": order.reopen_count, "reopened_at": stamp(ctx.now)}


def close_repair_order(ctx: HandlerContext) -> dict[str, Any]:
    """Close the order and the request once the customer accepted and finance settled."""
    variables = ctx.variables
    order = _order(ctx)
    request = _request(ctx)
    order.status = "closed"
    order.closed_at = ctx.now
    request.status = "closed"
    request.closed_at = ctx.now
    summary = [f"Repair order {order.order_no} for {order.product} (serial {order.serial_number}) is closed."]
    charge = variables.get("customer_charge")
    if charge is not None:
        summary.append(f"Charge to you: {charge} (statement {variables.get('statement_no')}).")
    if variables.get("compensation_status") == "approved":
        summary.append(f"Compensation approved: {variables.get('compensation_amount')}.")
    notify.to_customer(
        ctx,
        contact_for(ctx),
        "order_closed",
        f"Your repair {order.order_no} is complete",
        f"Dear {variables.get('customer_name') or 'customer'}, thank you. " + " ".join(summary),
        notify.case_of(ctx, "repair", order.order_no),
    )
    return {"order_status": "closed", "request_status": "closed", "closed_at": stamp(ctx.now)}


def register(registry: HandlerRegistry) -> None:
    registry.register("register_repair_request", register_repair_request)
    registry.register("notify_request_rejected", notify_request_rejected)
    registry.register("create_repair_order", create_repair_order)
    registry.register("check_coverage", check_coverage)
    registry.register("reopen_repair_order", reopen_repair_order)
    registry.register("close_repair_order", close_repair_order)
