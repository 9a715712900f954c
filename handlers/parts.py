"""Issuing the spare parts a technician used on a repair order (§4.4, §4.10).

The technician lists the parts used; this step makes the stock agree with that list for the
order: it issues what is not yet issued and takes back what is no longer listed (the order can
come back here after a rework or a reopening). Either every part is issued or none is: a
shortage rolls back the whole step's stock changes and takes the diagram's ``OUT_OF_STOCK``
path with a message that names the missing parts and where else they are in stock.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import BpmnErrorSignal
from engine.handler_registry import HandlerContext, HandlerRegistry

from . import notify
from . import variables as v
from .dates import stamp
from .geo import Point, great_circle_km
from .records import PartStock, SparePart, Technician, Warehouse
from .stock import OutOfStock, Shortage, check_level, give_back, issue, issued_to_order, order_parts

OUT_OF_STOCK = "OUT_OF_STOCK"


def technician_warehouse(session: Session, technician_id: str) -> str:
    """The technician's own store, else the warehouse nearest to their base."""
    technician = session.get(Technician, technician_id)
    if technician is None:
        raise v.CaseDataError(f"No technician with id {technician_id!r}")
    if technician.warehouse_code:
        return technician.warehouse_code
    base = Point(technician.latitude, technician.longitude)
    located = [
        (great_circle_km(base, Point(w.latitude, w.longitude)), w.code)
        for w in session.scalars(select(Warehouse))
        if w.latitude is not None and w.longitude is not None
    ]
    if not located:
        raise v.CaseDataError("No warehouse with coordinates to issue parts from")
    return min(located)[1]


def _issued_lines(session: Session, order_no: str) -> list[dict[str, Any]]:
    return [
        {"part_code": p.part_code, "name": p.name, "quantity": p.quantity, "unit_price": v.money(p.unit_cost)}
        for p in order_parts(session, order_no)
    ]


def _reconcile(ctx: HandlerContext, order_no: str, warehouse: str, wanted: Counter[str]) -> list[str]:
    """Issue and return so the order holds ``wanted``; returns the parts whose stock fell."""
    session = ctx.session
    held = issued_to_order(session, order_no)
    held_per_part: Counter[str] = Counter()
    for (_w, part_code), quantity in held.items():
        held_per_part[part_code] += quantity
    for (source, part_code), quantity in held.items():
        surplus = min(quantity, held_per_part[part_code] - wanted[part_code])
        if surplus > 0:
            give_back(session, source, part_code, surplus, order_no, ctx.now, ctx.actor)
            held_per_part[part_code] -= surplus
    shortages: list[Shortage] = []
    taken = []
    for part_code in sorted(wanted):
        missing = wanted[part_code] - held_per_part[part_code]
        if missing <= 0:
            continue
        try:
            issue(session, warehouse, part_code, missing, order_no, ctx.now, ctx.actor)
            taken.append(part_code)
        except OutOfStock as exc:
            shortages.extend(exc.shortages)
    if shortages:
        raise OutOfStock(shortages)
    return taken


def _alarm(ctx: HandlerContext, warehouse: str, part_code: str) -> None:
    alarm = check_level(ctx.session, warehouse, part_code, ctx.now)
    if alarm is None:
        return
    part = ctx.session.get(SparePart, part_code)
    name = part.name if part is not None else part_code
    notify.to_role(
        ctx,
        "dispatcher",
        "low_stock",
        f"Low stock: {part_code} {name} at {warehouse}",
        f"Stock of {part_code} {name} at warehouse {warehouse} fell to {alarm.quantity}, "
        f"below its reorder level of {alarm.reorder_level}. Order or transfer more.",
        notify.Case("stock", f"{warehouse}/{part_code}", ctx.instance_id),
    )


def issue_spare_parts(ctx: HandlerContext) -> dict[str, Any]:
    """Issue the parts used on the order from the technician's warehouse; all or nothing."""
    variables = ctx.variables
    order_no = v.text(variables, "order_no")
    technician_id = v.text(variables, "technician_id")
    wanted = Counter(v.string_list(variables, "parts_used"))
    unknown = [code for code in wanted if ctx.session.get(SparePart, code) is None]
    if unknown:
        raise v.CaseDataError(f"Unknown spare part code(s) in parts_used: {', '.join(sorted(unknown))}")
    warehouse = technician_warehouse(ctx.session, technician_id)
    savepoint = ctx.session.begin_nested()
    try:
        taken = _reconcile(ctx, order_no, warehouse, wanted)
    except OutOfStock as exc:
        savepoint.rollback()
        message = f"Order {order_no}: not enough stock. " + "; ".join(s.describe() for s in exc.shortages)
        raise BpmnErrorSignal(OUT_OF_STOCK, message, {"parts_shortage_message": message}) from exc
    savepoint.commit()
    for part_code in taken:
        _alarm(ctx, warehouse, part_code)
    return {
        "parts_issued": _issued_lines(ctx.session, order_no),
        "parts_issued_at": stamp(ctx.now),
        "parts_warehouse": warehouse,
        "parts_shortage_message": None,
    }


def stock_of(session: Session, part_code: str) -> dict[str, int]:
    """Units per warehouse, for reports and tests."""
    rows = session.execute(
        select(PartStock.warehouse_code, PartStock.quantity).where(PartStock.part_code == part_code)
    )
    return {w: int(q) for w, q in rows}


def register(registry: HandlerRegistry) -> None:
    registry.register("issue_spare_parts", issue_spare_parts)
