"""The CRM records over HTTP: customers, technicians, spare parts and stock movements."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from handlers.demo_data import load_records
from tests.integration.rest_support import Rest, rest

__all__ = ["rest"]


@pytest.fixture
def crm(rest: Rest) -> Rest:
    with rest.engine.db.transaction() as conn:
        session = Session(bind=conn)
        load_records(session, date(2026, 1, 5), rest.clock.now())
        session.close()
    return rest


def test_customers_are_listed_shown_registered_and_changed(crm: Rest) -> None:
    rest = crm
    listed = rest.get("/customers?tier=A&sort=id").json
    assert [c["id"] for c in listed["items"]][:2] == ["CUST-A-001", "CUST-A-002"]
    assert all(c["tier"] == "A" for c in listed["items"])
    assert [c["id"] for c in rest.get("/customers?q=HARBOUR").json["items"]] == ["CUST-A-002"]
    assert rest.get("/customers?city=Guangzhou").json["total"] >= 1
    shown = rest.get("/customers/CUST-A-001").json
    assert shown["name"] == "Beijing Huaxin Hotel Group" and isinstance(shown["products"], list)
    assert rest.get("/customers/nobody").status_code == 404

    new = {"id": "CUST-T-1", "name": "Test Ltd.", "address": "1 Test Road", "tier": "B", "city": "Beijing"}
    assert rest.post("/customers", "fiona", json=new).status_code == 403
    assert rest.post("/customers", "audrey", json=new).status_code == 403
    created = rest.post("/customers", "alice", json=new)
    assert created.status_code == 201 and created.json["tier"] == "B"
    assert rest.post("/customers", "alice", json=new).status_code == 409
    assert rest.post("/customers", "alice", json={**new, "id": "X", "tier": "Z"}).status_code == 422
    assert rest.post("/customers", "alice", json={"id": "Y", "name": "No address"}).status_code == 422

    changed = rest.patch("/customers/CUST-T-1", "amy", json={"tier": "A", "phone": "+86 1"})
    assert changed.status_code == 200 and (changed.json["tier"], changed.json["phone"]) == ("A", "+86 1")
    assert rest.patch("/customers/nobody", "amy", json={"tier": "A"}).status_code == 404
    assert rest.patch("/customers/CUST-T-1", "dan", json={"tier": "C"}).status_code == 403
    events = rest.get("/history?chain=records", "audrey").json["items"]
    assert [(e["type"], e["actor"]) for e in events] == [
        ("customer_created", "alice"),
        ("customer_updated", "amy"),
    ]
    assert events[1]["data"]["changes"]["tier"] == {"from": "B", "to": "A"}


def test_technicians_and_their_availability(crm: Rest) -> None:
    rest = crm
    listed = rest.get("/technicians?city=Beijing").json
    assert listed["total"] >= 1 and all(t["base_city"] == "Beijing" for t in listed["items"])
    hvac = rest.get("/technicians?skill=hvac").json["items"]
    assert hvac and all("hvac" in t["skills"] for t in hvac)
    one = hvac[0]["id"]
    assert rest.get(f"/technicians/{one}").json["skills"] == hvac[0]["skills"]
    assert rest.get("/technicians/nobody").status_code == 404

    assert rest.patch(f"/technicians/{one}", "alice", json={"on_duty": False}).status_code == 403
    away = rest.patch(f"/technicians/{one}", "dan", json={"on_duty": False, "absent_until": "2026-01-09"})
    assert away.status_code == 200 and (away.json["on_duty"], away.json["absent_until"]) == (
        False,
        "2026-01-09",
    )
    assert one not in [t["id"] for t in rest.get("/technicians?on_duty=true&limit=1000").json["items"]]
    assert rest.patch(f"/technicians/{one}", "dan", json={"absent_until": "soon"}).status_code == 422
    assert rest.patch(f"/technicians/{one}", "dan", json={"capacity": -1}).status_code == 422


def test_parts_stock_movements_and_low_stock(crm: Rest) -> None:
    rest = crm
    part = rest.get("/parts/P-WM-BOARD").json
    assert part["unit_cost"] == "380.00"
    assert {s["warehouse"]: s["quantity"] for s in part["stock"]} == {"WH-BJ": 1, "WH-SH": 3}
    assert part["total"] == 4
    assert [p["code"] for p in rest.get("/parts?q=pump").json["items"]] == ["P-DW-PUMP", "P-WM-PUMP"]
    assert rest.get("/parts/nothing").status_code == 404
    assert [w["code"] for w in rest.get("/warehouses").json] == ["WH-BJ", "WH-GZ", "WH-SH"]

    transfer = {
        "kind": "transfer",
        "part_code": "P-WM-BOARD",
        "quantity": 3,
        "from_warehouse": "WH-SH",
        "to_warehouse": "WH-GZ",
        "reference": "rebalance",
    }
    assert rest.post("/stock/movements", "tess", json=transfer).status_code == 403
    moved = rest.post("/stock/movements", "dan", json=transfer)
    assert moved.status_code == 201, moved.json
    assert moved.json["movement"]["kind"] == "transfer" and moved.json["movement"]["actor"] == "dan"
    stock = {s["warehouse"]: s["quantity"] for s in moved.json["part"]["stock"]}
    assert (stock["WH-SH"], stock["WH-GZ"]) == (0, 3)
    # Shanghai is now below its reorder level for the board.
    low = rest.get("/stock/low").json
    assert [(a["warehouse_code"], a["part_code"]) for a in low] == [("WH-SH", "P-WM-BOARD")]

    short = rest.post("/stock/movements", "dan", json={**transfer, "quantity": 1})
    assert short.status_code == 409 and "Not enough stock" in short.json["detail"]
    received = rest.post(
        "/stock/movements",
        "fiona",
        json={
            "kind": "receive",
            "part_code": "P-WM-BOARD",
            "quantity": 5,
            "to_warehouse": "WH-SH",
            "reference": "PO-1",
        },
    )
    assert received.status_code == 201
    assert rest.get("/stock/low").json == []
    assert len(rest.get("/stock/low?open=false").json) == 1
    assert (
        rest.post("/stock/movements", "fiona", json={**transfer, "to_warehouse": "WH-XX"}).status_code == 422
    )
    assert rest.post("/stock/movements", "fiona", json={**transfer, "part_code": "NOPE"}).status_code == 422
    no_source = {"kind": "transfer", "part_code": "P-WM-BOARD", "quantity": 1, "to_warehouse": "WH-BJ"}
    assert rest.post("/stock/movements", "fiona", json=no_source).status_code == 422

    movements = rest.get("/stock/movements?part_code=P-WM-BOARD").json["items"]
    assert [(m["kind"], m["quantity"]) for m in movements] == [("receive", 5), ("transfer", 3)]
    assert rest.get("/stock/movements?warehouse=WH-GZ").json["total"] == 1
    assert rest.get("/stock/movements?kind=issue").json["total"] == 0
    types = [e["type"] for e in rest.get("/history?chain=records", "audrey").json["items"]]
    assert types == ["stock_moved", "stock_moved"]
