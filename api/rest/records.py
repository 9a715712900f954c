"""The CRM records the processes use: customers, technicians, spare parts, stock movements.

Reading is open to everyone signed in; changing is for the roles ``engine.actors.RECORD_EDITORS``
names. Stock moves through ``handlers.stock`` (the same code the repair process uses, with its
never-negative guarantee). Every change is appended to the ``records`` history chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from engine.actors import Actor, require_may_edit_records
from engine.clock import as_utc
from engine.errors import Conflict, FieldError, NotFound, ValidationError
from engine.history import NewEvent, append_to_named_chain
from engine.paging import SortKey, fetch_page
from handlers import stock
from handlers.records import (
    Customer,
    LowStockAlarm,
    PartMovement,
    PartStock,
    Product,
    SparePart,
    Technician,
    TechnicianSkill,
    Warehouse,
)

from ..auth import current_actor
from ..openapi import Param, Reply, operation
from .common import created, engine
from .params import json_body, page_request, paging, query_args
from .schemas import BOOLEAN, TIME, nullable, obj, ref, text

bp = Blueprint("records", __name__)
TAG = "Records"
CHAIN = "records"

CUSTOMER_SORT = {
    "name": Customer.name,
    "id": Customer.id,
    "tier": Customer.tier,
    "created_at": Customer.created_at,
}
TECHNICIAN_SORT = {"name": Technician.name, "id": Technician.id, "base_city": Technician.base_city}
PART_SORT = {"code": SparePart.code, "name": SparePart.name}
MOVEMENT_SORT = {"at": PartMovement.at, "part_code": PartMovement.part_code, "kind": PartMovement.kind}


@contextmanager
def _records(write: bool) -> Iterator[tuple[Connection, Session]]:
    """One transaction, with an ORM session on it for the records' own code."""
    with engine().db.transaction(write=write) as conn:
        session = Session(bind=conn)
        try:
            yield conn, session
            session.flush()
        finally:
            session.close()


def _record(conn: Connection, actor: Actor, event: str, data: dict[str, Any]) -> None:
    append_to_named_chain(conn, CHAIN, [NewEvent(event, actor.name, data)], engine().clock.now(), {})


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return (
        value.isoformat()
        if isinstance(value, date) and not hasattr(value, "hour")
        else as_utc(value).isoformat()
    )


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# -- customers ---------------------------------------------------------------------------------

# Record codes as the business writes them: CUST-A-001, P-WM-BELT, WH-SH.
CODE = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
_CUSTOMER_FIELDS = {
    "name": text(200),
    "tier": nullable({"type": "string", "enum": ["A", "B", "C"]}),
    "contact_name": nullable(text(200)),
    "phone": nullable(text(40)),
    "email": nullable(text(200)),
    "address": text(500),
    "city": nullable(text(100)),
    "latitude": nullable({"type": "number", "minimum": -90, "maximum": 90}),
    "longitude": nullable({"type": "number", "minimum": -180, "maximum": 180}),
    "account_owner": nullable(text(64)),
}


def customer_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        **{name: getattr(row, name) for name in _CUSTOMER_FIELDS},
        "created_at": _iso(row.created_at),
    }


@bp.get("/customers")
@operation(
    "List customers",
    tag=TAG,
    query=(
        Param("q", text(100), "Name contains (any case)"),
        Param("tier", {"type": "string", "enum": ["A", "B", "C"]}, "Only this tier"),
        Param("city", text(100), "Only customers in this city"),
        *paging(list(CUSTOMER_SORT), "name"),
    ),
    responses={200: Reply("A page of customers", ref("CustomerPage"))},
)
def list_customers() -> ResponseReturnValue:
    args = query_args()
    query = select(Customer)
    if args["q"]:
        query = query.where(func.lower(Customer.name).contains(args["q"].lower(), autoescape=True))
    if args["tier"]:
        query = query.where(Customer.tier == args["tier"])
    if args["city"]:
        query = query.where(Customer.city == args["city"])
    with _records(write=False) as (conn, _session):
        page = fetch_page(
            conn,
            query,
            page_request(args, list(CUSTOMER_SORT)),
            CUSTOMER_SORT,
            (SortKey("name"),),
            Customer.id,
            customer_dict,
        )
    return jsonify(page.to_dict())


@bp.get("/customers/<customer_id>")
@operation(
    "One customer with the products they own",
    tag=TAG,
    responses={200: Reply("The customer", ref("CustomerDetail"))},
    errors=(404,),
)
def show_customer(customer_id: str) -> ResponseReturnValue:
    with _records(write=False) as (conn, _session):
        row = conn.execute(select(Customer).where(Customer.id == customer_id)).first()
        if row is None:
            raise NotFound(f"No customer with id {customer_id!r}")
        products = conn.execute(
            select(Product).where(Product.customer_id == customer_id).order_by(Product.serial_number)
        )
        body = customer_dict(row)
        body["products"] = [
            {
                "serial_number": p.serial_number,
                "model_code": p.model_code,
                "sold_on": _iso(p.sold_on),
                "warranty_end": _iso(p.warranty_end),
            }
            for p in products
        ]
    return jsonify(body)


@bp.post("/customers")
@operation(
    "Register a customer (agents, account managers, service managers, admins)",
    tag=TAG,
    body=obj(
        {"id": CODE, **_CUSTOMER_FIELDS},
        optional=tuple(k for k in _CUSTOMER_FIELDS if k not in ("name", "address")),
    ),
    responses={201: Reply("The new customer", ref("Customer"))},
    errors=(403, 409),
)
def create_customer() -> ResponseReturnValue:
    body = json_body()
    actor = current_actor()
    require_may_edit_records(actor, "customers")
    with _records(write=True) as (conn, session):
        if session.get(Customer, body["id"]) is not None:
            raise Conflict(f"A customer with id {body['id']!r} already exists")
        customer = Customer(created_at=engine().clock.now(), **body)
        session.add(customer)
        session.flush()
        _record(conn, actor, "customer_created", {"customer_id": body["id"], "values": body})
        result = customer_dict(customer)
    return created(result, f"{request.script_root}/api/v1/customers/{quote(body['id'], safe='')}")


@bp.patch("/customers/<customer_id>")
@operation(
    "Change a customer's details (agents, account managers, service managers, admins)",
    tag=TAG,
    body=obj(dict(_CUSTOMER_FIELDS), optional=tuple(_CUSTOMER_FIELDS)),
    responses={200: Reply("The customer as changed", ref("Customer"))},
    errors=(403, 404),
)
def update_customer(customer_id: str) -> ResponseReturnValue:
    body = json_body()
    actor = current_actor()
    require_may_edit_records(actor, "customers")
    with _records(write=True) as (conn, session):
        customer = session.get(Customer, customer_id, with_for_update=True)
        if customer is None:
            raise NotFound(f"No customer with id {customer_id!r}")
        changes = {
            name: {"from": getattr(customer, name), "to": value}
            for name, value in body.items()
            if getattr(customer, name) != value
        }
        for name, value in body.items():
            setattr(customer, name, value)
        session.flush()
        if changes:
            _record(conn, actor, "customer_updated", {"customer_id": customer_id, "changes": changes})
        result = customer_dict(customer)
    return jsonify(result)


# -- technicians --------------------------------------------------------------------------------


def technician_dict(row: Any, skills: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "user_name": row.user_name,
        "phone": row.phone,
        "base_city": row.base_city,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "warehouse_code": row.warehouse_code,
        "on_duty": row.on_duty,
        "absent_until": _iso(row.absent_until),
        "capacity": row.capacity,
        "active": row.active,
        "skills": sorted(skills),
    }


def _skills(conn: Connection, technician_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {t: [] for t in technician_ids}
    if technician_ids:
        rows = conn.execute(
            select(TechnicianSkill.technician_id, TechnicianSkill.skill).where(
                TechnicianSkill.technician_id.in_(technician_ids)
            )
        )
        for technician_id, skill in rows:
            found[technician_id].append(skill)
    return found


@bp.get("/technicians")
@operation(
    "List technicians with their skills",
    tag=TAG,
    query=(
        Param("skill", text(64), "Only technicians with this skill"),
        Param("city", text(100), "Only technicians based in this city"),
        Param("on_duty", BOOLEAN, "Only technicians on (true) or off (false) duty"),
        *paging(list(TECHNICIAN_SORT), "name"),
    ),
    responses={200: Reply("A page of technicians", ref("TechnicianPage"))},
)
def list_technicians() -> ResponseReturnValue:
    args = query_args()
    query = select(Technician)
    if args["skill"]:
        query = query.where(
            Technician.id.in_(
                select(TechnicianSkill.technician_id).where(TechnicianSkill.skill == args["skill"])
            )
        )
    if args["city"]:
        query = query.where(Technician.base_city == args["city"])
    if args["on_duty"] is not None:
        query = query.where(Technician.on_duty.is_(args["on_duty"]))
    with _records(write=False) as (conn, _session):
        page = fetch_page(
            conn,
            query,
            page_request(args, list(TECHNICIAN_SORT)),
            TECHNICIAN_SORT,
            (SortKey("name"),),
            Technician.id,
            lambda r: technician_dict(r, []),
        )
        skills = _skills(conn, [t["id"] for t in page.items])
    for item in page.items:
        item["skills"] = sorted(skills[item["id"]])
    return jsonify(page.to_dict())


@bp.get("/technicians/<technician_id>")
@operation(
    "One technician", tag=TAG, responses={200: Reply("The technician", ref("Technician"))}, errors=(404,)
)
def show_technician(technician_id: str) -> ResponseReturnValue:
    with _records(write=False) as (conn, _session):
        row = conn.execute(select(Technician).where(Technician.id == technician_id)).first()
        if row is None:
            raise NotFound(f"No technician with id {technician_id!r}")
        return jsonify(technician_dict(row, _skills(conn, [technician_id])[technician_id]))


@bp.patch("/technicians/<technician_id>")
@operation(
    "Change a technician's availability: on duty, absent until, capacity (dispatchers, service managers)",
    tag=TAG,
    body=obj(
        {
            "on_duty": BOOLEAN,
            "absent_until": nullable({"type": "string", "format": "date"}),
            "capacity": {"type": "integer", "minimum": 0, "maximum": 100},
            "active": BOOLEAN,
        },
        optional=("on_duty", "absent_until", "capacity", "active"),
    ),
    responses={200: Reply("The technician as changed", ref("Technician"))},
    errors=(403, 404),
)
def update_technician(technician_id: str) -> ResponseReturnValue:
    body = json_body()
    actor = current_actor()
    require_may_edit_records(actor, "technicians")
    if body.get("absent_until") is not None:
        body["absent_until"] = date.fromisoformat(body["absent_until"])
    with _records(write=True) as (conn, session):
        technician = session.get(Technician, technician_id, with_for_update=True)
        if technician is None:
            raise NotFound(f"No technician with id {technician_id!r}")
        changes = {
            name: {"from": _plain(getattr(technician, name)), "to": _plain(value)}
            for name, value in body.items()
            if getattr(technician, name) != value
        }
        for name, value in body.items():
            setattr(technician, name, value)
        session.flush()
        if changes:
            _record(conn, actor, "technician_updated", {"technician_id": technician_id, "changes": changes})
        return jsonify(technician_dict(technician, _skills(conn, [technician_id])[technician_id]))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


# -- spare parts and stock ----------------------------------------------------------------------


def _stock(conn: Connection, part_codes: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {code: [] for code in part_codes}
    if part_codes:
        rows = conn.execute(
            select(PartStock).where(PartStock.part_code.in_(part_codes)).order_by(PartStock.warehouse_code)
        )
        for row in rows:
            found[row.part_code].append(
                {
                    "warehouse": row.warehouse_code,
                    "quantity": row.quantity,
                    "reorder_level": row.reorder_level,
                }
            )
    return found


def part_dict(row: Any, stock_rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "unit_cost": _money(row.unit_cost),
        "stock": stock_rows,
        "total": sum(s["quantity"] for s in stock_rows),
    }


@bp.get("/parts")
@operation(
    "List spare parts with their stock in every warehouse",
    tag=TAG,
    query=(Param("q", text(100), "Code or name contains (any case)"), *paging(list(PART_SORT), "code")),
    responses={200: Reply("A page of parts", ref("PartPage"))},
)
def list_parts() -> ResponseReturnValue:
    args = query_args()
    query = select(SparePart)
    if args["q"]:
        needle = args["q"].lower()
        query = query.where(
            func.lower(SparePart.name).contains(needle, autoescape=True)
            | func.lower(SparePart.code).contains(needle, autoescape=True)
        )
    with _records(write=False) as (conn, _session):
        page = fetch_page(
            conn,
            query,
            page_request(args, list(PART_SORT)),
            PART_SORT,
            (SortKey("code"),),
            SparePart.code,
            lambda r: part_dict(r, []),
        )
        stock_rows = _stock(conn, [p["code"] for p in page.items])
    for item in page.items:
        item["stock"] = stock_rows[item["code"]]
        item["total"] = sum(s["quantity"] for s in item["stock"])
    return jsonify(page.to_dict())


@bp.get("/parts/<code>")
@operation(
    "One spare part and its stock", tag=TAG, responses={200: Reply("The part", ref("Part"))}, errors=(404,)
)
def show_part(code: str) -> ResponseReturnValue:
    with _records(write=False) as (conn, _session):
        row = conn.execute(select(SparePart).where(SparePart.code == code)).first()
        if row is None:
            raise NotFound(f"No spare part with code {code!r}")
        return jsonify(part_dict(row, _stock(conn, [code])[code]))


def movement_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "part_code": row.part_code,
        "quantity": row.quantity,
        "from_warehouse": row.from_warehouse,
        "to_warehouse": row.to_warehouse,
        "order_no": row.order_no,
        "unit_cost": _money(row.unit_cost),
        "reference": row.reference,
        "at": _iso(row.at),
        "actor": row.actor,
    }


@bp.get("/stock/movements")
@operation(
    "Stock movements (receipts, issues to orders, returns, transfers), newest first",
    tag=TAG,
    query=(
        Param("part_code", text(64), "Only this part"),
        Param("warehouse", text(64), "Into or out of this warehouse"),
        Param("order_no", text(64), "Only for this repair order"),
        Param(
            "kind",
            {"type": "string", "enum": [stock.RECEIVE, stock.ISSUE, stock.RETURN, stock.TRANSFER]},
            "Only this kind",
        ),
        Param("since", TIME, "At or after this time"),
        *paging(list(MOVEMENT_SORT), "-at"),
    ),
    responses={200: Reply("A page of movements", ref("MovementPage"))},
)
def list_movements() -> ResponseReturnValue:
    args = query_args()
    query = select(PartMovement)
    for column, value in (
        (PartMovement.part_code, args["part_code"]),
        (PartMovement.order_no, args["order_no"]),
        (PartMovement.kind, args["kind"]),
    ):
        if value:
            query = query.where(column == value)
    if args["warehouse"]:
        query = query.where(
            (PartMovement.from_warehouse == args["warehouse"])
            | (PartMovement.to_warehouse == args["warehouse"])
        )
    if args["since"] is not None:
        query = query.where(PartMovement.at >= args["since"])
    with _records(write=False) as (conn, _session):
        page = fetch_page(
            conn,
            query,
            page_request(args, list(MOVEMENT_SORT)),
            MOVEMENT_SORT,
            (SortKey("at", True),),
            PartMovement.id,
            movement_dict,
        )
    return jsonify(page.to_dict())


_MOVE = obj(
    {
        "kind": {"type": "string", "enum": [stock.RECEIVE, stock.TRANSFER]},
        "part_code": text(64),
        "quantity": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "to_warehouse": text(64),
        "from_warehouse": text(64),
        "reference": nullable(text(200)),
    },
    optional=("from_warehouse", "reference"),
)


@bp.post("/stock/movements")
@operation(
    "Receive parts into a warehouse, or transfer them between two (dispatchers, finance, service managers)",
    tag=TAG,
    description="Issues to repair orders and returns from them are made by the repair process itself.",
    body=_MOVE,
    responses={201: Reply("The movement and the part's stock after it", ref("StockChange"))},
    errors=(403, 409),
)
def move_stock() -> ResponseReturnValue:
    body = json_body()
    actor = current_actor()
    require_may_edit_records(actor, "stock")
    quantity = int(body["quantity"])
    if body["kind"] == stock.TRANSFER and not body.get("from_warehouse"):
        raise ValidationError(
            "A transfer needs from_warehouse", [FieldError("from_warehouse", "is required")]
        )
    now = engine().clock.now()
    with _records(write=True) as (conn, session):
        _require_warehouse(session, body["to_warehouse"], "to_warehouse")
        try:
            if body["kind"] == stock.RECEIVE:
                stock.receive(
                    session,
                    body["to_warehouse"],
                    body["part_code"],
                    quantity,
                    now,
                    actor.name,
                    body.get("reference"),
                )
            else:
                stock.transfer(
                    session,
                    body["from_warehouse"],
                    body["to_warehouse"],
                    body["part_code"],
                    quantity,
                    now,
                    actor.name,
                    body.get("reference"),
                )
        except stock.OutOfStock as exc:
            raise Conflict(str(exc)) from exc
        except stock.StockError as exc:
            raise ValidationError(str(exc), [FieldError("part_code", str(exc))]) from exc
        session.flush()
        movement = session.scalars(select(PartMovement).order_by(PartMovement.id.desc()).limit(1)).one()
        _record(conn, actor, "stock_moved", movement_dict(movement))
        part = conn.execute(select(SparePart).where(SparePart.code == body["part_code"])).one()
        result = {
            "movement": movement_dict(movement),
            "part": part_dict(part, _stock(conn, [part.code])[part.code]),
        }
    return created(result, f"{request.script_root}/api/v1/stock/movements")


def _require_warehouse(session: Session, code: str, field: str) -> None:
    if session.get(Warehouse, code) is None:
        raise ValidationError(
            f"No warehouse with code {code!r}", [FieldError(field, f"no warehouse {code!r}")]
        )


@bp.get("/stock/low")
@operation(
    "Low-stock alarms: parts below their reorder level in a warehouse (§4.10)",
    tag=TAG,
    query=(Param("open", BOOLEAN, "Only alarms not yet cleared (default true)"),),
    responses={200: Reply("The alarms", {"type": "array", "items": ref("LowStock")})},
)
def low_stock() -> ResponseReturnValue:
    args = query_args()
    query = select(LowStockAlarm).order_by(LowStockAlarm.raised_at.desc(), LowStockAlarm.id.desc())
    if args["open"] is not False:
        query = query.where(LowStockAlarm.cleared_at.is_(None))
    with _records(write=False) as (conn, _session):
        rows = conn.execute(query.limit(1000))
        return jsonify(
            [
                {
                    "id": r.id,
                    "warehouse_code": r.warehouse_code,
                    "part_code": r.part_code,
                    "quantity": r.quantity,
                    "reorder_level": r.reorder_level,
                    "raised_at": _iso(r.raised_at),
                    "cleared_at": _iso(r.cleared_at),
                }
                for r in rows
            ]
        )


@bp.get("/warehouses")
@operation(
    "Warehouses (the central store and technicians' van stocks)",
    tag=TAG,
    responses={200: Reply("Every warehouse", {"type": "array", "items": ref("Warehouse")})},
)
def list_warehouses() -> ResponseReturnValue:
    with _records(write=False) as (conn, _session):
        rows = conn.execute(select(Warehouse).order_by(Warehouse.code))
        return jsonify(
            [
                {
                    "code": r.code,
                    "name": r.name,
                    "city": r.city,
                    "latitude": r.latitude,
                    "longitude": r.longitude,
                }
                for r in rows
            ]
        )
