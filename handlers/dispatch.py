"""Dispatch (§4.3): propose the nearest available technician with the right skill; assign one.

"Nearest first and the actual situation": the proposal ranks qualified technicians by
great-circle distance from the service address, available ones first. Available means on
duty, not on leave on the visit day, and carrying fewer open orders than their capacity. The
dispatcher sees every qualified technician with distance and availability and may choose
another; the form only accepts technicians from that list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.handler_registry import HandlerContext, HandlerRegistry

from . import notify
from . import variables as v
from .catalogue import find_model
from .customers import contact_for, find_customer
from .dates import local_day, stamp
from .geo import Point, great_circle_km, locate
from .records import RepairOrder, Technician, TechnicianSkill

# Orders a technician is still working on.
OPEN_ORDER_STATUSES = ("assigned", "reopened")


@dataclass(frozen=True)
class Candidate:
    technician: Technician
    distance_km: float | None
    available: bool

    @property
    def rank(self) -> tuple[bool, float, str]:
        unknown = float("inf")
        return (
            not self.available,
            self.distance_km if self.distance_km is not None else unknown,
            self.technician.name,
        )

    def option(self) -> dict[str, str]:
        km = f"{self.distance_km:.1f} km" if self.distance_km is not None else "distance unknown"
        state = "available" if self.available else "busy"
        return {"label": f"{self.technician.name} - {km} - {state}", "value": self.technician.id}


def _open_orders(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(RepairOrder.technician_id, func.count())
        .where(RepairOrder.status.in_(OPEN_ORDER_STATUSES), RepairOrder.technician_id.is_not(None))
        .group_by(RepairOrder.technician_id)
    )
    return {str(t): int(n) for t, n in rows}


def is_available(technician: Technician, on: date, open_orders: int) -> bool:
    on_leave = technician.absent_until is not None and on <= technician.absent_until
    return technician.on_duty and not on_leave and open_orders < technician.capacity


def candidates(session: Session, skill: str | None, site: Point | None, on: date) -> list[Candidate]:
    """Active technicians with ``skill`` (all active ones when no skill is known), best first."""
    query = select(Technician).where(Technician.active.is_(True))
    if skill:
        query = query.join(TechnicianSkill, TechnicianSkill.technician_id == Technician.id).where(
            TechnicianSkill.skill == skill
        )
    load = _open_orders(session)
    found = [
        Candidate(
            t,
            great_circle_km(site, Point(t.latitude, t.longitude)) if site is not None else None,
            is_available(t, on, load.get(t.id, 0)),
        )
        for t in session.scalars(query)
    ]
    return sorted(found, key=lambda c: c.rank)


def propose_technician(ctx: HandlerContext) -> dict[str, Any]:
    """Rank qualified technicians by distance and availability; propose the best available one."""
    variables = ctx.variables
    session = ctx.session
    model = find_model(session, variables.get("serial_number"), variables.get("product"))
    customer = find_customer(session, variables.get("customer_id"))
    site = locate(session, variables.get("service_address") or variables.get("customer_address"), customer)
    visit = v.optional_moment(variables, "planned_visit_at")
    on = local_day(visit or ctx.now)
    skill = model.skill if model is not None else None
    qualified = candidates(session, skill, site, on) if skill else []
    # Nobody known to be qualified: the dispatcher picks from everybody rather than the order stalling.
    ranked = qualified or candidates(session, None, site, on)
    proposal = next((c for c in qualified if c.available), None)
    return {
        "required_skill": skill,
        "proposed_technician": proposal.technician.id if proposal else None,
        "proposed_technician_name": proposal.technician.name if proposal else None,
        "proposed_distance_km": round(proposal.distance_km, 1)
        if proposal and proposal.distance_km is not None
        else None,
        "technician_options": [c.option() for c in ranked],
        "technician_id": proposal.technician.id if proposal else None,
    }


def assign_technician(ctx: HandlerContext) -> dict[str, Any]:
    """Put the chosen technician on the order and tell them and the customer."""
    variables = ctx.variables
    session = ctx.session
    order_no = v.text(variables, "order_no")
    technician_id = v.text(variables, "technician_id")
    visit = v.moment(variables, "planned_visit_at")
    technician = session.get(Technician, technician_id)
    if technician is None:
        raise v.CaseDataError(f"No technician with id {technician_id!r}")
    order = session.get(RepairOrder, order_no)
    if order is None:
        raise v.CaseDataError(f"No repair order {order_no!r}; it should have been generated before dispatch")
    order.technician_id = technician.id
    order.planned_visit_at = visit
    order.assigned_at = ctx.now
    order.status = "assigned"
    address = variables.get("service_address") or order.service_address
    when = stamp(visit)
    note = v.optional_text(variables, "dispatch_note")
    case = notify.case_of(ctx, "repair", order_no)
    if technician.user_name:
        notify.to_user(
            ctx,
            technician.user_name,
            "order_assigned",
            f"Repair order {order_no} assigned to you",
            f"Order {order_no}: {variables.get('product')} (serial {variables.get('serial_number')}).\n"
            f"Visit {when} at {address}; "
            f"contact {variables.get('contact_name')}, {variables.get('contact_phone')}.\n"
            f"Fault: {variables.get('fault_description')}" + (f"\nDispatcher: {note}" if note else ""),
            case,
        )
    notify.to_customer(
        ctx,
        contact_for(ctx),
        "visit_planned",
        f"Your repair {order_no}: technician visit planned",
        f"Dear {variables.get('customer_name') or 'customer'}, {technician.name} will visit you at {address} "
        f"on {when} about {variables.get('product')}.",
        case,
    )
    return {"technician_name": technician.name, "assigned_at": stamp(ctx.now), "order_status": "assigned"}


def register(registry: HandlerRegistry) -> None:
    registry.register("propose_technician", propose_technician)
    registry.register("assign_technician", assign_technician)
