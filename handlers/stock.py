"""Spare-parts stock (§4.10): receive, issue, return, transfer, and the low-stock alarm.

Stock is taken with one conditional statement, ``UPDATE … SET quantity = quantity - n WHERE
quantity >= n``. The database evaluates the condition on the latest committed row under the
row's write lock (PostgreSQL re-checks it after waiting for a concurrent writer; SQLite's
``BEGIN IMMEDIATE`` lets one writer in at a time), so two technicians taking the last unit at
the same moment cannot both succeed, and no read-then-write race exists. The table's
``quantity >= 0`` check is the last line of defence. Every change is also a movement row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .records import LowStockAlarm, PartMovement, PartStock, SparePart, Warehouse

RECEIVE = "receive"
ISSUE = "issue"
RETURN = "return"
TRANSFER = "transfer"


class StockError(ValueError):
    """A stock operation that cannot be done as asked (unknown part or warehouse, bad quantity)."""


@dataclass(frozen=True)
class Shortage:
    part_code: str
    part_name: str
    warehouse_code: str
    wanted: int
    available: int
    # Other warehouses that hold the part: (code, quantity), most first.
    elsewhere: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        text = (
            f"{self.wanted} x {self.part_code} {self.part_name}: "
            f"{self.available} in stock at {self.warehouse_code}"
        )
        if self.elsewhere:
            text += " (available at " + ", ".join(f"{w}: {q}" for w, q in self.elsewhere) + ")"
        else:
            text += " (none in any warehouse)"
        return text


class OutOfStock(StockError):
    def __init__(self, shortages: list[Shortage]) -> None:
        self.shortages = shortages
        super().__init__("Not enough stock: " + "; ".join(s.describe() for s in shortages))


def _part(session: Session, part_code: str) -> SparePart:
    part = session.get(SparePart, part_code)
    if part is None:
        raise StockError(f"No spare part with code {part_code!r}")
    return part


def _warehouse(session: Session, warehouse_code: str) -> Warehouse:
    warehouse = session.get(Warehouse, warehouse_code)
    if warehouse is None:
        raise StockError(f"No warehouse with code {warehouse_code!r}")
    return warehouse


def _positive(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise StockError(f"A quantity must be a whole number above zero, not {quantity!r}")


def on_hand(session: Session, warehouse_code: str, part_code: str) -> int:
    quantity = session.scalar(
        select(PartStock.quantity).where(
            PartStock.warehouse_code == warehouse_code, PartStock.part_code == part_code
        )
    )
    return int(quantity or 0)


def _elsewhere(session: Session, part_code: str, except_warehouse: str) -> tuple[tuple[str, int], ...]:
    rows = session.execute(
        select(PartStock.warehouse_code, PartStock.quantity)
        .where(
            PartStock.part_code == part_code,
            PartStock.warehouse_code != except_warehouse,
            PartStock.quantity > 0,
        )
        .order_by(PartStock.quantity.desc(), PartStock.warehouse_code)
    ).all()
    return tuple((w, int(q)) for w, q in rows)


def take(session: Session, warehouse_code: str, part_code: str, quantity: int) -> int:
    """Remove ``quantity`` units or raise OutOfStock; returns what is left."""
    _positive(quantity)
    part = _part(session, part_code)
    left = session.execute(
        update(PartStock)
        .where(
            PartStock.warehouse_code == warehouse_code,
            PartStock.part_code == part_code,
            PartStock.quantity >= quantity,
        )
        .values(quantity=PartStock.quantity - quantity)
        .returning(PartStock.quantity)
        .execution_options(synchronize_session=False)
    ).scalar()
    if left is None:
        shortage = Shortage(
            part_code,
            part.name,
            warehouse_code,
            quantity,
            on_hand(session, warehouse_code, part_code),
            _elsewhere(session, part_code, warehouse_code),
        )
        raise OutOfStock([shortage])
    return int(left)


def put(session: Session, warehouse_code: str, part_code: str, quantity: int) -> int:
    """Add ``quantity`` units (a stock row is created on first receipt); returns the new quantity."""
    _positive(quantity)
    _part(session, part_code)
    _warehouse(session, warehouse_code)
    left = session.execute(
        update(PartStock)
        .where(PartStock.warehouse_code == warehouse_code, PartStock.part_code == part_code)
        .values(quantity=PartStock.quantity + quantity)
        .returning(PartStock.quantity)
        .execution_options(synchronize_session=False)
    ).scalar()
    if left is None:
        session.add(
            PartStock(warehouse_code=warehouse_code, part_code=part_code, quantity=quantity, reorder_level=0)
        )
        session.flush()
        return quantity
    return int(left)


def _movement(
    session: Session, kind: str, part_code: str, quantity: int, now: datetime, actor: str, **fields: object
) -> None:
    part = _part(session, part_code)
    session.add(
        PartMovement(
            kind=kind,
            part_code=part_code,
            quantity=quantity,
            unit_cost=part.unit_cost,
            at=now,
            actor=actor,
            **fields,
        )
    )


def receive(
    session: Session,
    warehouse_code: str,
    part_code: str,
    quantity: int,
    now: datetime,
    actor: str,
    reference: str | None = None,
) -> int:
    """Goods received (a purchase); clears the low-stock alarm once stock is back at its level."""
    left = put(session, warehouse_code, part_code, quantity)
    _movement(
        session, RECEIVE, part_code, quantity, now, actor, to_warehouse=warehouse_code, reference=reference
    )
    check_level(session, warehouse_code, part_code, now)
    return left


def issue(
    session: Session,
    warehouse_code: str,
    part_code: str,
    quantity: int,
    order_no: str,
    now: datetime,
    actor: str,
) -> int:
    left = take(session, warehouse_code, part_code, quantity)
    _movement(
        session, ISSUE, part_code, quantity, now, actor, from_warehouse=warehouse_code, order_no=order_no
    )
    return left


def give_back(
    session: Session,
    warehouse_code: str,
    part_code: str,
    quantity: int,
    order_no: str,
    now: datetime,
    actor: str,
) -> int:
    """Parts issued to an order and not used after all go back to the warehouse they came from."""
    left = put(session, warehouse_code, part_code, quantity)
    _movement(
        session, RETURN, part_code, quantity, now, actor, to_warehouse=warehouse_code, order_no=order_no
    )
    check_level(session, warehouse_code, part_code, now)
    return left


def transfer(
    session: Session,
    from_warehouse: str,
    to_warehouse: str,
    part_code: str,
    quantity: int,
    now: datetime,
    actor: str,
    reference: str | None = None,
) -> None:
    if from_warehouse == to_warehouse:
        raise StockError("A transfer needs two different warehouses")
    _warehouse(session, from_warehouse)
    take(session, from_warehouse, part_code, quantity)
    put(session, to_warehouse, part_code, quantity)
    _movement(
        session,
        TRANSFER,
        part_code,
        quantity,
        now,
        actor,
        from_warehouse=from_warehouse,
        to_warehouse=to_warehouse,
        reference=reference,
    )
    check_level(session, from_warehouse, part_code, now)
    check_level(session, to_warehouse, part_code, now)


def issued_to_order(session: Session, order_no: str) -> dict[tuple[str, str], int]:
    """Net units per (warehouse, part) an order holds: issued minus returned."""
    held: dict[tuple[str, str], int] = {}
    rows = session.execute(
        select(
            PartMovement.kind,
            PartMovement.from_warehouse,
            PartMovement.to_warehouse,
            PartMovement.part_code,
            func.sum(PartMovement.quantity),
        )
        .where(PartMovement.order_no == order_no, PartMovement.kind.in_((ISSUE, RETURN)))
        .group_by(
            PartMovement.kind, PartMovement.from_warehouse, PartMovement.to_warehouse, PartMovement.part_code
        )
    ).all()
    for kind, source, target, part_code, quantity in rows:
        key = (str(source if kind == ISSUE else target), part_code)
        held[key] = held.get(key, 0) + (int(quantity) if kind == ISSUE else -int(quantity))
    return {key: quantity for key, quantity in held.items() if quantity > 0}


@dataclass(frozen=True)
class OrderPart:
    part_code: str
    name: str
    quantity: int
    # Cost per unit as recorded when the units were issued (the average if it changed in between).
    unit_cost: Decimal


def order_parts(session: Session, order_no: str) -> list[OrderPart]:
    """The parts an order holds (net of returns), at the cost they were issued at."""
    held: dict[str, int] = {}
    for (_warehouse, part_code), quantity in issued_to_order(session, order_no).items():
        held[part_code] = held.get(part_code, 0) + quantity
    lines = []
    for part_code in sorted(held):
        part = _part(session, part_code)
        issues = session.execute(
            select(PartMovement.quantity, PartMovement.unit_cost).where(
                PartMovement.order_no == order_no,
                PartMovement.part_code == part_code,
                PartMovement.kind == ISSUE,
            )
        ).all()
        units = sum(q for q, _c in issues)
        value = sum((q * (c if c is not None else part.unit_cost) for q, c in issues), Decimal(0))
        unit_cost = (value / units).quantize(Decimal("0.01")) if units else part.unit_cost
        lines.append(OrderPart(part_code, part.name, held[part_code], unit_cost))
    return lines


def check_level(session: Session, warehouse_code: str, part_code: str, now: datetime) -> LowStockAlarm | None:
    """Raise the low-stock alarm when stock is below its reorder level (once), clear it when back.

    Returns the alarm when one was raised now, so the caller can tell the people concerned.
    """
    row = session.execute(
        select(PartStock.quantity, PartStock.reorder_level).where(
            PartStock.warehouse_code == warehouse_code, PartStock.part_code == part_code
        )
    ).first()
    if row is None:
        return None
    quantity, level = int(row.quantity), int(row.reorder_level)
    open_alarm = session.scalars(
        select(LowStockAlarm).where(
            LowStockAlarm.warehouse_code == warehouse_code,
            LowStockAlarm.part_code == part_code,
            LowStockAlarm.cleared_at.is_(None),
        )
    ).first()
    if quantity < level and open_alarm is None:
        alarm = LowStockAlarm(
            warehouse_code=warehouse_code,
            part_code=part_code,
            quantity=quantity,
            reorder_level=level,
            raised_at=now,
        )
        session.add(alarm)
        return alarm
    if quantity >= level and open_alarm is not None:
        open_alarm.cleared_at = now
    return None
