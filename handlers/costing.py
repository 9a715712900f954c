"""Repair cost accounting (§4.6): price the approved order at the fee standard, post it to finance.

Cost = parts (the units the stock records hold for the order, at the cost they were issued at,
plus the standard's parts markup) + labour (hours at the labour rate) + the call-out fee.
The full cost is always computed and posted, because finance books warranty and agreement work
against the manufacturer or the contract; what the customer pays follows the coverage decision
(DMN ``repair_coverage``): nothing, the parts only, or everything. One statement per order: a
recalculation after rework or reopening replaces it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.handler_registry import HandlerContext, HandlerRegistry

from . import notify
from . import variables as v
from .dates import local_day, stamp
from .numbering import STATEMENT, next_number
from .records import FeeStandard, RepairOrder, RepairStatement
from .stock import OrderPart, order_parts

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
# What the customer pays, as the coverage decision table says it.
PAYS_NOTHING = "nothing"
PAYS_PARTS = "parts"
PAYS_ALL = "parts_and_labour"


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def fee_standard_on(session: Session, day: date) -> FeeStandard:
    standard = session.scalars(
        select(FeeStandard)
        .where(
            FeeStandard.valid_from <= day, or_(FeeStandard.valid_to.is_(None), FeeStandard.valid_to >= day)
        )
        .order_by(FeeStandard.valid_from.desc())
        .limit(1)
    ).first()
    if standard is None:
        raise v.CaseDataError(f"No fee standard is in force on {day.isoformat()}; finance must set one up")
    return standard


@dataclass(frozen=True)
class Price:
    parts: Decimal
    labour: Decimal
    call_out: Decimal
    lines: list[dict[str, Any]]

    @property
    def total(self) -> Decimal:
        return self.parts + self.labour + self.call_out

    def customer_charge(self, customer_pays: str) -> Decimal:
        if customer_pays == PAYS_NOTHING:
            return Decimal("0.00")
        if customer_pays == PAYS_PARTS:
            return self.parts
        if customer_pays == PAYS_ALL:
            return self.total
        raise v.CaseDataError(
            f"customer_pays must be {PAYS_NOTHING!r}, {PAYS_PARTS!r} or {PAYS_ALL!r}, not {customer_pays!r}"
        )


def price(parts: list[OrderPart], hours: Decimal, standard: FeeStandard) -> Price:
    markup = Decimal(1) + standard.parts_markup_percent / HUNDRED
    lines: list[dict[str, Any]] = []
    parts_total = Decimal(0)
    for part in parts:
        unit_price = _cents(part.unit_cost * markup)
        amount = unit_price * part.quantity
        parts_total += amount
        lines.append(
            {
                "kind": "part",
                "part_code": part.part_code,
                "name": part.name,
                "quantity": part.quantity,
                "unit_price": str(unit_price),
                "amount": str(amount),
            }
        )
    labour = _cents(hours * standard.labour_rate)
    lines.append(
        {"kind": "labour", "hours": str(hours), "rate": str(standard.labour_rate), "amount": str(labour)}
    )
    lines.append({"kind": "call_out", "amount": str(standard.call_out_fee)})
    return Price(_cents(parts_total), labour, standard.call_out_fee, lines)


def calculate_repair_cost(ctx: HandlerContext) -> dict[str, Any]:
    """Price the approved order and post (or replace) its statement to finance."""
    variables = dict(ctx.variables)
    session = ctx.session
    order_no = v.text(variables, "order_no")
    order = session.get(RepairOrder, order_no)
    if order is None:
        raise v.CaseDataError(f"No repair order {order_no!r}")
    hours = v.number(variables, "labour_hours")
    customer_pays = v.text(variables, "customer_pays")
    coverage = v.optional_text(variables, "coverage") or "none"
    completed = v.optional_moment(variables, "completed_at") or ctx.now
    standard = fee_standard_on(session, local_day(completed))
    cost = price(order_parts(session, order_no), hours, standard)
    charge = cost.customer_charge(customer_pays)

    order.fault_symptom = v.optional_text(variables, "fault_symptom")
    order.solution = v.optional_text(variables, "solution")
    order.labour_hours = hours
    order.completed_at = completed
    order.coverage = coverage

    statement = session.scalars(select(RepairStatement).where(RepairStatement.order_no == order_no)).first()
    if statement is None:
        statement = RepairStatement(
            statement_no=next_number(session, STATEMENT, ctx.now),
            order_no=order_no,
            customer_id=order.customer_id,
            revision=1,
        )
        session.add(statement)
        action = "posted"
    else:
        statement.revision += 1
        action = f"replaced (revision {statement.revision})"
    statement.fee_standard_code = standard.code
    statement.coverage = coverage
    statement.customer_pays = customer_pays
    statement.parts_cost = cost.parts
    statement.labour_cost = cost.labour
    statement.call_out_fee = cost.call_out
    statement.total_cost = cost.total
    statement.customer_charge = charge
    statement.lines = json.dumps(cost.lines)
    statement.posted_at = ctx.now

    notify.to_role(
        ctx,
        "finance",
        "statement_posted",
        f"Repair statement {statement.statement_no} {action}",
        f"Order {order_no}: parts {cost.parts}, labour {cost.labour}, call-out {cost.call_out}, "
        f"total {cost.total} at fee standard {standard.code}; coverage {coverage}; "
        f"charge to the customer {charge}.",
        notify.case_of(ctx, "repair", order_no),
    )
    return {
        "fee_standard": standard.code,
        "parts_cost": v.money(cost.parts),
        "labour_cost": v.money(cost.labour),
        "call_out_fee": v.money(cost.call_out),
        "total_cost": v.money(cost.total),
        "customer_charge": v.money(charge),
        "statement_no": statement.statement_no,
        "statement_posted_at": stamp(ctx.now),
    }


def register(registry: HandlerRegistry) -> None:
    registry.register("calculate_repair_cost", calculate_repair_cost)
