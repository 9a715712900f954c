"""Spare-parts stock under concurrency: the last unit goes to exactly one technician, never below zero.

Run on SQLite (writers take turns: BEGIN IMMEDIATE) and PostgreSQL (row lock; the second
conditional UPDATE re-checks the row after the first commits).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import ManualClock
from engine.db import Database
from handlers import demo_data
from handlers.records import PartMovement, PartStock
from handlers.stock import OutOfStock, StockError, issue, on_hand, receive, take, transfer

from .crm_kit import DISPATCHER, TECHNICIANS, Crm
from .test_process_repair import VISIT, report, work

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    with database.transaction() as conn:
        session = Session(bind=conn)
        demo_data.load_records(session, date(2026, 1, 5), NOW)
        session.close()
    yield database
    database.dispose()


def _set(db: Database, warehouse: str, part: str, quantity: int) -> None:
    with db.transaction() as conn:
        session = Session(bind=conn)
        row = session.get(PartStock, (warehouse, part))
        assert row is not None
        row.quantity = quantity
        session.flush()
        session.close()


def _quantity(db: Database, warehouse: str, part: str) -> int:
    with db.transaction(write=False) as conn:
        return on_hand(Session(bind=conn), warehouse, part)


def test_two_technicians_taking_the_last_unit_at_the_same_moment_one_gets_it(db: Database) -> None:
    for _round in range(5):
        _set(db, "WH-BJ", "P-WM-BOARD", 1)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def technician(order_no: str, barrier: threading.Barrier, outcomes: list[str]) -> None:
            barrier.wait()
            try:
                with db.transaction() as conn:
                    session = Session(bind=conn)
                    issue(session, "WH-BJ", "P-WM-BOARD", 1, order_no, NOW, "technician")
                    session.flush()
                    time.sleep(0.2)  # hold the transaction open so the other one has to contend
                    session.close()
                outcomes.append("issued")
            except OutOfStock as exc:
                outcomes.append(str(exc))

        threads = [threading.Thread(target=technician, args=(f"RO-{n}", barrier, outcomes)) for n in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes, key=len) == [
            "issued",
            "Not enough stock: 1 x P-WM-BOARD Control board: 0 in stock at WH-BJ (available at WH-SH: 3)",
        ]
        assert _quantity(db, "WH-BJ", "P-WM-BOARD") == 0
    with db.transaction(write=False) as conn:
        issued = conn.execute(select(func.count()).select_from(PartMovement)).scalar()
    assert issued == 5


def test_stock_cannot_go_negative_even_when_written_past_the_stock_functions(db: Database) -> None:
    _set(db, "WH-BJ", "P-WM-BOARD", 0)
    with pytest.raises(IntegrityError), db.transaction() as conn:
        session = Session(bind=conn)
        session.get(PartStock, ("WH-BJ", "P-WM-BOARD")).quantity = -1  # type: ignore[union-attr]
        session.flush()
    assert _quantity(db, "WH-BJ", "P-WM-BOARD") == 0


def test_receive_transfer_and_refusals(db: Database) -> None:
    with db.transaction() as conn:
        s = Session(bind=conn)
        assert receive(s, "WH-GZ", "P-WM-BOARD", 4, NOW, "warehouse", reference="PO-77") == 4  # new stock row
        transfer(s, "WH-GZ", "WH-BJ", "P-WM-BOARD", 3, NOW, "warehouse")
        assert (on_hand(s, "WH-GZ", "P-WM-BOARD"), on_hand(s, "WH-BJ", "P-WM-BOARD")) == (1, 4)
        with pytest.raises(OutOfStock, match="2 x P-WM-BOARD Control board: 1 in stock at WH-GZ"):
            take(s, "WH-GZ", "P-WM-BOARD", 2)
        with pytest.raises(StockError, match="No spare part with code 'P-NOPE'"):
            take(s, "WH-GZ", "P-NOPE", 1)
        with pytest.raises(StockError, match="whole number above zero"):
            take(s, "WH-GZ", "P-WM-BOARD", 0)
        with pytest.raises(StockError, match="two different warehouses"):
            transfer(s, "WH-GZ", "WH-GZ", "P-WM-BOARD", 1, NOW, "warehouse")
        kinds = sorted(m.kind for m in s.scalars(select(PartMovement)))
        assert kinds == ["receive", "transfer"]
        s.close()


@pytest.fixture
def crm(db_url: str, clock: ManualClock) -> Iterator[Crm]:
    with Crm.open(db_url, clock) as world:
        yield world


def test_two_repair_orders_racing_for_the_last_board_through_the_engine(crm: Crm) -> None:
    crm.set_stock("WH-BJ", "P-WM-BOARD", 1)
    cases = {}
    for key, technician in (("R-ZHANG", "T-BJ-01"), ("R-MA", "T-BJ-03")):
        instance = report(crm, key=key)
        crm.complete(instance, "Task_confirm_request", DISPATCHER, request_decision="confirm")
        crm.complete(instance, "Task_dispatch", DISPATCHER, technician_id=technician, **VISIT)
        cases[technician] = instance

    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def finish(technician: str) -> None:
        barrier.wait()
        try:
            work(crm, cases[technician], technician, ["P-WM-BOARD"])
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            failures.append(exc)

    threads = [threading.Thread(target=finish, args=(t,)) for t in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []

    outcomes = sorted(crm.open_tasks(instance)[0] for instance in cases.values())
    assert outcomes == ["Task_arrange_parts", "Task_review_order"]
    assert crm.stock("WH-BJ", "P-WM-BOARD") == 0
    assert len(crm.records(PartMovement, PartMovement.part_code == "P-WM-BOARD")) == 1
    loser = next(i for i in cases.values() if crm.open_tasks(i) == ["Task_arrange_parts"])
    assert (
        "P-WM-BOARD Control board: 0 in stock at WH-BJ"
        in crm.task_data(loser, "Task_arrange_parts")["parts_shortage_message"]
    )
    assert set(TECHNICIANS) >= set(cases)
