"""Repair / fault handling (§4) end to end, with the handlers working on the demo records.

Demo facts these tests rely on (handlers/demo_data.py): Wang Fang (CUST-C-001, Haidian,
Beijing) owns washing machine WM7-2023-004471, out of warranty, no agreement; Li Wei
(CUST-C-002, Xuhui, Shanghai) owns refrigerator RF45-2024-000812, in warranty; Huaxin Hotels
(CUST-A-001) have a premium agreement covering everything; Tianhe Garden (CUST-B-001) a basic
one covering their AC-3500. Fee standard of 2026: labour 130.00/h, call-out 90.00, parts +15 %.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from engine.clock import ManualClock
from engine.errors import ValidationError
from handlers.records import (
    Compensation,
    LowStockAlarm,
    OutboxMessage,
    PartMovement,
    PaymentOrder,
    RepairOrder,
    RepairRequest,
    RepairStatement,
    Technician,
)
from handlers.stock import transfer

from .crm_kit import AGENT, DIRECTOR, DISPATCHER, FINANCE, MANAGER, TECHNICIANS, Crm


@pytest.fixture
def crm(db_url: str, clock: ManualClock) -> Iterator[Crm]:
    with Crm.open(db_url, clock) as world:
        yield world


WANG_FANG = {
    "customer_id": "CUST-C-001",
    "contact_name": "Wang Fang",
    "contact_phone": "+86 139 1000 5005",
    "product": "Front-load washing machine WM-700",
    "serial_number": "WM7-2023-004471",
    "fault_description": "Water stays in the drum after the wash programme ends; error E21.",
    "service_address": "Room 502, 3 Zhongguancun Street, Haidian, Beijing",
}
VISIT = {"planned_visit_at": "2026-01-06T10:00:00+08:00", "dispatch_note": "Customer home after 9:30."}
DONE = {
    "fault_symptom": "Drain pump blocked and impeller cracked; error E21 on every programme.",
    "solution": "Replaced the drain pump, cleaned the filter, ran a test programme.",
    "parts_note": "",
    "labour_hours": 1.5,
    "completed_at": "2026-01-06T11:30:00+08:00",
}
APPROVED = {"review_decision": "approve", "compensation_due": False}
SATISFIED_CALL = {
    "customer_reached": "yes",
    "problem_solved": "yes",
    "satisfaction": 4,
    "callback_comments": "Works again.",
}


def report(crm: Crm, key: str = "R-2026-0001", **request: Any) -> str:
    instance = crm.start("repair", AGENT, business_key=key)
    crm.complete(instance, "Task_record_request", AGENT, **{**WANG_FANG, **request})
    return instance


def confirm_and_dispatch(crm: Crm, instance: str, technician: str | None = None) -> str:
    crm.complete(instance, "Task_confirm_request", DISPATCHER, request_decision="confirm")
    chosen = technician or crm.task_data(instance, "Task_dispatch")["technician_id"]
    crm.complete(instance, "Task_dispatch", DISPATCHER, technician_id=chosen, **VISIT)
    return chosen


def work(crm: Crm, instance: str, technician: str, parts: list[str], **done: Any) -> None:
    crm.complete(
        instance, "Task_complete_order", TECHNICIANS[technician], **{**DONE, "parts_used": parts, **done}
    )


def accept_and_settle(crm: Crm, instance: str, **settlement: Any) -> None:
    crm.complete(instance, "Task_call_customer", AGENT, **SATISFIED_CALL)
    crm.complete(
        instance,
        "Task_record_acceptance",
        AGENT,
        customer_accepted="yes",
        acceptance_feedback="Machine drains properly.",
    )
    crm.complete(
        instance,
        "Task_settle",
        FINANCE,
        **(settlement or {"settlement_status": "invoiced", "invoice_no": "INV-2026-0042"}),
    )


def test_out_of_warranty_repair_is_dispatched_nearest_first_priced_in_full_and_closed(crm: Crm) -> None:
    instance = report(crm)
    request_no = crm.variables(instance)["request_no"]
    assert crm.task_data(instance, "Task_confirm_request")["duplicate_hint"] == "none"
    crm.complete(instance, "Task_confirm_request", DISPATCHER, request_decision="confirm")

    proposal = crm.task_data(instance, "Task_dispatch")
    assert (proposal["warranty_status"], proposal["agreement_level"]) == ("out_of_warranty", "none")
    assert (proposal["coverage"], proposal["customer_pays"]) == ("none", "parts_and_labour")
    # Zhang Wei (laundry, central Beijing) is nearer to Haidian than Ma Lin (laundry, Tongzhou).
    assert proposal["proposed_technician"] == "T-BJ-01"
    assert 5 < proposal["proposed_distance_km"] < 15
    options = [o["value"] for o in proposal["technician_options"]]
    assert options[:2] == ["T-BJ-01", "T-BJ-03"]
    assert set(options) == {"T-BJ-01", "T-BJ-03", "T-SH-01", "T-GZ-01"}  # every laundry technician
    assert "P-WM-PUMP" in [o["value"] for o in proposal["spare_part_options"]]
    assert "P-AC-FAN" not in [o["value"] for o in proposal["spare_part_options"]]

    crm.complete(instance, "Task_dispatch", DISPATCHER, technician_id="T-BJ-01", **VISIT)
    order_no = crm.variables(instance)["order_no"]
    assert crm.record(RepairOrder, order_no).status == "assigned"
    assert crm.stock("WH-BJ", "P-WM-PUMP") == 4

    work(crm, instance, "T-BJ-01", ["P-WM-PUMP"])
    assert crm.stock("WH-BJ", "P-WM-PUMP") == 3
    [movement] = crm.records(PartMovement, PartMovement.order_no == order_no)
    assert (movement.kind, movement.part_code, movement.quantity, movement.from_warehouse) == (
        "issue",
        "P-WM-PUMP",
        1,
        "WH-BJ",
    )
    assert crm.task_data(instance, "Task_review_order")["parts_issued"] == [
        {"part_code": "P-WM-PUMP", "name": "Drain pump", "quantity": 1, "unit_price": 120.0}
    ]

    crm.complete(instance, "Task_review_order", MANAGER, **APPROVED)
    statement = crm.records(RepairStatement, RepairStatement.order_no == order_no)[0]
    # 120.00 + 15 % = 138.00; 1.5 h x 130.00 = 195.00; call-out 90.00.
    assert (statement.parts_cost, statement.labour_cost, statement.call_out_fee) == (
        Decimal("138.00"),
        Decimal("195.00"),
        Decimal("90.00"),
    )
    assert statement.total_cost == statement.customer_charge == Decimal("423.00")
    assert statement.fee_standard_code == "FS-2026"
    assert crm.outbox(OutboxMessage.topic == "statement_posted")[0].recipient == "finance"

    accept_and_settle(crm, instance)
    assert crm.status(instance) == "completed"
    assert crm.record(RepairOrder, order_no).status == "closed"
    assert crm.record(RepairOrder, order_no).solution == DONE["solution"]
    assert crm.record(RepairRequest, request_no).status == "closed"
    to_customer = [m.topic for m in crm.outbox(OutboxMessage.recipient == "CUST-C-001")]
    assert to_customer == ["visit_planned", "order_closed"]
    [assigned] = crm.outbox(OutboxMessage.topic == "order_assigned")
    assert assigned.recipient == "zhang.wei" and "Haidian" in assigned.body
    assert crm.handlers_run(instance) == [
        "lookup_customer",
        "register_repair_request",
        "create_repair_order",
        "check_coverage",
        "propose_technician",
        "assign_technician",
        "issue_spare_parts",
        "calculate_repair_cost",
        "prepare_callback",
        "record_callback_result",
        "close_repair_order",
    ]
    assert crm.completed_by(instance) == {
        "Task_record_request": "li.na",
        "Task_confirm_request": "wu.fang",
        "Task_dispatch": "wu.fang",
        "Task_complete_order": "zhang.wei",
        "Task_review_order": "ma.jun",
        "Task_call_customer": "li.na",
        "Task_record_acceptance": "li.na",
        "Task_settle": "he.ping",
    }


@pytest.mark.parametrize(
    ("customer", "serial", "product", "address", "coverage", "pays", "charge"),
    [
        # In warranty: nothing to pay, whatever the agreement.
        (
            "CUST-C-002",
            "RF45-2024-000812",
            "Refrigerator RF-450",
            "Flat 1801, 66 Tianyaoqiao Road, Xuhui, Shanghai",
            "warranty",
            "nothing",
            "0.00",
        ),
        # Out of warranty, premium agreement covering everything: nothing to pay.
        (
            "CUST-A-001",
            "AC35-2022-004410",
            "Split air conditioner AC-3500",
            "88 Jianguo Road, Chaoyang, Beijing",
            "agreement",
            "nothing",
            "0.00",
        ),
        # Out of warranty, basic agreement covering the AC: the customer pays the parts only.
        (
            "CUST-B-001",
            "AC35-2021-002231",
            "Split air conditioner AC-3500",
            "15 Tiyu West Road, Tianhe, Guangzhou",
            "partial_agreement",
            "parts",
            "parts",
        ),
    ],
)
def test_warranty_and_agreements_decide_what_the_customer_pays(
    crm: Crm, customer: str, serial: str, product: str, address: str, coverage: str, pays: str, charge: str
) -> None:
    instance = report(
        crm, customer_id=customer, serial_number=serial, product=product, service_address=address
    )
    technician = confirm_and_dispatch(crm, instance)
    decided = crm.task_data(instance, "Task_complete_order")
    assert (decided["coverage"], decided["customer_pays"]) == (coverage, pays)
    part = next(o["value"] for o in decided["spare_part_options"] if o["value"] != "P-GEN-FUSE")
    work(crm, instance, technician, [part, "P-GEN-FUSE"], labour_hours=2)
    crm.complete(instance, "Task_review_order", MANAGER, **APPROVED)

    case = crm.task_data(instance, "Task_call_customer")
    statement = crm.records(RepairStatement, RepairStatement.customer_id == customer)[0]
    assert statement.labour_cost == Decimal("260.00")
    assert statement.total_cost == statement.parts_cost + Decimal("260.00") + Decimal("90.00")
    expected = statement.parts_cost if charge == "parts" else Decimal(charge)
    assert statement.customer_charge == expected
    assert case["customer_charge"] == float(expected)
    assert case["total_cost"] == float(statement.total_cost)

    accept_and_settle(
        crm,
        instance,
        settlement_status="covered" if pays == "nothing" else "invoiced",
        **({} if pays == "nothing" else {"invoice_no": "INV-2026-0107"}),
    )
    assert crm.status(instance) == "completed"


def test_invalid_and_duplicate_requests_are_rejected_and_the_customer_is_told(crm: Crm) -> None:
    first = report(crm, key="R-1")
    first_no = crm.variables(first)["request_no"]
    second = report(crm, key="R-2", fault_description="Washing machine does not pump out the water.")
    hint = crm.task_data(second, "Task_confirm_request")
    assert [d["request_no"] for d in hint["possible_duplicates"]] == [first_no]
    assert first_no in hint["duplicate_hint"]

    crm.complete(
        second,
        "Task_confirm_request",
        DISPATCHER,
        request_decision="duplicate",
        duplicate_of=first_no,
        rejection_reason="Same fault already reported this morning.",
    )
    assert crm.status(second) == "completed"
    second_no = crm.variables(second)["request_no"]
    rejected = crm.record(RepairRequest, second_no)
    assert (rejected.status, rejected.rejection, rejected.duplicate_of) == ("rejected", "duplicate", first_no)
    [told] = crm.outbox(OutboxMessage.case_id == second_no)
    assert told.topic == "request_rejected" and first_no in told.body
    assert crm.records(RepairOrder) == []

    crm.complete(
        first,
        "Task_confirm_request",
        DISPATCHER,
        request_decision="invalid",
        rejection_reason="The serial number belongs to a unit sold abroad; not serviced by us.",
    )
    assert crm.status(first) == "completed"
    assert crm.record(RepairRequest, first_no).rejection == "invalid"
    assert "sold abroad" in crm.outbox(OutboxMessage.case_id == first_no)[0].body


def test_rework_and_a_customer_rejection_send_the_order_back_and_the_statement_is_replaced(crm: Crm) -> None:
    instance = report(crm)
    technician = confirm_and_dispatch(crm, instance)
    order_no = crm.variables(instance)["order_no"]
    work(crm, instance, technician, ["P-WM-PUMP", "P-WM-BELT"])
    assert (crm.stock("WH-BJ", "P-WM-PUMP"), crm.stock("WH-BJ", "P-WM-BELT")) == (3, 5)

    crm.complete(
        instance,
        "Task_review_order",
        MANAGER,
        review_decision="rework",
        compensation_due=False,
        review_comment="The belt was fine; check the pressure switch too.",
    )
    assert crm.open_tasks(instance) == ["Task_complete_order"]
    assert crm.task_data(instance, "Task_complete_order")["review_comment"].startswith("The belt was fine")
    assert crm.records(RepairStatement) == []  # nothing is charged before approval

    work(crm, instance, technician, ["P-WM-PUMP"], labour_hours=2)
    # The belt goes back to stock; the pump is not issued twice.
    assert (crm.stock("WH-BJ", "P-WM-PUMP"), crm.stock("WH-BJ", "P-WM-BELT")) == (3, 6)
    kinds = sorted(
        (m.kind, m.part_code) for m in crm.records(PartMovement, PartMovement.order_no == order_no)
    )
    assert kinds == [("issue", "P-WM-BELT"), ("issue", "P-WM-PUMP"), ("return", "P-WM-BELT")]

    crm.complete(instance, "Task_review_order", MANAGER, **APPROVED)
    crm.complete(instance, "Task_call_customer", AGENT, **SATISFIED_CALL)
    first = crm.records(RepairStatement, RepairStatement.order_no == order_no)[0]
    assert (first.revision, first.labour_cost) == (1, Decimal("260.00"))

    crm.complete(
        instance,
        "Task_record_acceptance",
        AGENT,
        customer_accepted="no",
        acceptance_feedback="Still leaks a little at the pump after two days.",
    )
    order = crm.record(RepairOrder, order_no)
    assert (order.status, order.reopen_count) == ("reopened", 1)
    assert {m.recipient for m in crm.outbox(OutboxMessage.topic == "order_reopened")} == {
        "zhang.wei",
        "dispatcher",
    }
    assert crm.task_data(instance, "Task_complete_order")["acceptance_feedback"].startswith("Still leaks")

    work(crm, instance, technician, ["P-WM-PUMP", "P-GEN-FUSE"], labour_hours=3)
    crm.complete(instance, "Task_review_order", MANAGER, **APPROVED)
    [replaced] = crm.records(RepairStatement, RepairStatement.order_no == order_no)
    assert replaced.statement_no == first.statement_no
    assert (replaced.revision, replaced.labour_cost) == (2, Decimal("390.00"))
    accept_and_settle(crm, instance)
    assert crm.status(instance) == "completed"
    assert crm.handlers_run(instance).count("prepare_callback") == 2


def test_customer_answering_by_link_replaces_the_agents_acceptance_call(crm: Crm) -> None:
    instance = report(crm, key="R-LINK")
    technician = confirm_and_dispatch(crm, instance)
    work(crm, instance, technician, ["P-WM-PUMP"])
    crm.complete(instance, "Task_review_order", MANAGER, **APPROVED)
    crm.complete(instance, "Task_call_customer", AGENT, **SATISFIED_CALL)
    assert crm.open_tasks(instance) == ["Task_record_acceptance"]

    crm.correlate(
        "repair_acceptance",
        "R-LINK",
        customer_accepted="yes",
        acceptance_feedback="Accepted through the link in the SMS.",
    )
    assert crm.open_tasks(instance) == ["Task_settle"]
    assert (
        crm.task_data(instance, "Task_settle")["acceptance_feedback"]
        == "Accepted through the link in the SMS."
    )
    history = crm.history(instance)
    assert any(
        e["type"] == "message_correlated" and e["data"]["message"] == "repair_acceptance" for e in history
    )
    assert any(e["type"] == "task_cancelled" for e in history)


def test_dispatcher_overrides_the_proposal_and_a_technician_on_leave_is_not_proposed(crm: Crm) -> None:
    with crm.session() as s:
        zhang = s.get(Technician, "T-BJ-01")
        assert zhang is not None
        zhang.absent_until = date(2026, 1, 9)
    instance = report(crm)
    crm.complete(instance, "Task_confirm_request", DISPATCHER, request_decision="confirm")
    proposal = crm.task_data(instance, "Task_dispatch")
    assert proposal["proposed_technician"] == "T-BJ-03"
    labels = {o["value"]: o["label"] for o in proposal["technician_options"]}
    assert labels["T-BJ-01"].endswith("busy") and labels["T-BJ-03"].endswith("available")

    # The dispatcher knows better (Zhang's leave was cancelled) and picks him anyway.
    crm.complete(instance, "Task_dispatch", DISPATCHER, technician_id="T-BJ-01", **VISIT)
    order = crm.record(RepairOrder, crm.variables(instance)["order_no"])
    assert order.technician_id == "T-BJ-01"
    with pytest.raises(ValidationError) as refused:
        work(crm, instance, "T-BJ-01", ["P-WM-PUMP"], labour_hours=0.1, completed_at="yesterday")
    assert {e.field for e in refused.value.errors} == {"labour_hours", "completed_at"}


def test_parts_that_do_not_fit_and_bad_hours_are_refused_and_nothing_is_issued(crm: Crm) -> None:
    instance = report(crm)
    technician = confirm_and_dispatch(crm, instance)
    with pytest.raises(ValidationError) as refused:
        work(crm, instance, technician, ["P-WM-PUMP", "P-AC-FAN"], labour_hours="two", fault_symptom="")
    errors = {e.field: e.message for e in refused.value.errors}
    assert set(errors) == {"parts_used", "labour_hours", "fault_symptom"}
    assert "'P-AC-FAN'" in errors["parts_used"]
    assert crm.stock("WH-BJ", "P-WM-PUMP") == 4
    assert crm.records(PartMovement) == []
    assert crm.open_tasks(instance) == ["Task_complete_order"]


def test_out_of_stock_is_refused_clearly_nothing_is_issued_and_the_dispatcher_arranges(crm: Crm) -> None:
    crm.set_stock("WH-BJ", "P-WM-BOARD", 0)
    instance = report(crm)
    technician = confirm_and_dispatch(crm, instance)
    order_no = crm.variables(instance)["order_no"]

    work(crm, instance, technician, ["P-WM-PUMP", "P-WM-BOARD"])
    assert crm.open_tasks(instance) == ["Task_arrange_parts"]
    message = crm.task_data(instance, "Task_arrange_parts")["parts_shortage_message"]
    assert "1 x P-WM-BOARD Control board: 0 in stock at WH-BJ" in message
    assert "WH-SH: 3" in message
    # All or nothing: the pump, which was in stock, was not issued either.
    assert crm.stock("WH-BJ", "P-WM-PUMP") == 4
    assert crm.records(PartMovement, PartMovement.order_no == order_no) == []
    [error] = [e for e in crm.history(instance) if e["type"] == "bpmn_error"]
    assert error["data"]["code"] == "OUT_OF_STOCK"

    crm.complete(
        instance,
        "Task_arrange_parts",
        DISPATCHER,
        parts_arrangement="transfer",
        parts_expected_at="2026-01-07",
        parts_arrangement_note="Two boards from Shanghai by courier.",
    )
    assert crm.open_tasks(instance) == ["Task_complete_order"]
    with crm.session() as s:
        transfer(
            s, "WH-SH", "WH-BJ", "P-WM-BOARD", 2, crm.clock.now(), "warehouse", reference="courier SF123"
        )
    work(crm, instance, technician, ["P-WM-PUMP", "P-WM-BOARD"])
    assert crm.open_tasks(instance) == ["Task_review_order"]
    assert (crm.stock("WH-SH", "P-WM-BOARD"), crm.stock("WH-BJ", "P-WM-BOARD")) == (1, 1)
    assert crm.stock("WH-BJ", "P-WM-PUMP") == 3
    assert crm.task_data(instance, "Task_review_order")["parts_shortage_message"] is None


def test_issuing_below_the_reorder_level_raises_the_low_stock_alarm_once(crm: Crm) -> None:
    # Control boards at WH-BJ: 1 in stock, reorder level 1.
    first = report(crm, key="R-A")
    technician = confirm_and_dispatch(crm, first)
    work(crm, first, technician, ["P-WM-BOARD"])
    [alarm] = crm.records(LowStockAlarm)
    assert (alarm.warehouse_code, alarm.part_code, alarm.quantity, alarm.reorder_level) == (
        "WH-BJ",
        "P-WM-BOARD",
        0,
        1,
    )
    [notice] = crm.outbox(OutboxMessage.topic == "low_stock")
    assert (notice.recipient_kind, notice.recipient) == ("role", "dispatcher")

    # Taking the part back out of the order brings the stock up again and clears the alarm.
    crm.complete(
        first,
        "Task_review_order",
        MANAGER,
        review_decision="rework",
        compensation_due=False,
        review_comment="The board was not faulty; refit the old one.",
    )
    work(crm, first, technician, [])
    assert crm.stock("WH-BJ", "P-WM-BOARD") == 1
    assert crm.records(LowStockAlarm)[0].cleared_at is not None


def test_a_compensation_above_the_manager_limit_needs_the_director(crm: Crm) -> None:
    instance = report(crm, key="R-COMP")
    technician = confirm_and_dispatch(crm, instance)
    work(crm, instance, technician, ["P-WM-PUMP"])
    order_no = crm.variables(instance)["order_no"]
    crm.complete(
        instance,
        "Task_review_order",
        MANAGER,
        review_decision="approve",
        compensation_due=True,
        compensation_amount=6500,
        compensation_reason="The leaking pump flooded the flat below; we cover the damage.",
    )
    accept_and_settle(crm, instance)

    assert crm.open_tasks(instance) == ["Task_apply"]
    crm.complete(
        instance,
        "Task_apply",
        MANAGER,
        case_type="repair",
        case_id=order_no,
        customer_id="CUST-C-001",
        compensation_amount=6500,
        compensation_reason="The leaking pump flooded the flat below; we cover the damage.",
    )
    data = crm.task_data(instance, "Task_manager_approval")
    assert (data["approval_route"], data["manager_limit"]) == ("manager_and_director", 5000)
    crm.complete(
        instance,
        "Task_manager_approval",
        MANAGER,
        manager_decision="approve",
        manager_note="Damage report attached; I support it.",
    )
    assert crm.open_tasks(instance) == ["Task_director_approval"]
    crm.complete(
        instance, "Task_director_approval", DIRECTOR, director_decision="approve", director_note="Approved."
    )

    assert crm.status(instance) == "completed"
    [compensation] = crm.records(Compensation, Compensation.case_id == order_no)
    assert (compensation.status, compensation.amount) == ("approved", Decimal("6500.00"))
    [payment] = crm.records(PaymentOrder, PaymentOrder.compensation_no == compensation.compensation_no)
    assert "director" in payment.approved_by
    closing = crm.outbox(OutboxMessage.topic == "order_closed")[0]
    assert "Compensation approved: 6500" in closing.body


def test_a_review_that_leaves_the_compensation_box_unticked_closes_without_compensation(crm: Crm) -> None:
    # A REST client (like a browser form) sends nothing for an unticked optional checkbox.
    instance = report(crm, key="R-UNTICKED")
    technician = confirm_and_dispatch(crm, instance)
    work(crm, instance, technician, ["P-WM-PUMP"])
    # The flag the gateway reads is defined before the form, whatever a client sends.
    assert crm.task_data(instance, "Task_review_order")["compensation_due"] is False
    crm.complete(instance, "Task_review_order", MANAGER, review_decision="approve")
    assert crm.variables(instance)["compensation_due"] is False

    accept_and_settle(crm, instance)
    assert crm.incidents(instance) == []
    assert crm.status(instance) == "completed"
    order_no = crm.variables(instance)["order_no"]
    assert crm.record(RepairOrder, order_no).status == "closed"
    assert crm.records(Compensation, Compensation.case_id == order_no) == []


def test_a_review_sent_back_for_rework_keeps_a_ticked_compensation_box_not_sent_again(crm: Crm) -> None:
    instance = report(crm, key="R-REWORK-COMP")
    technician = confirm_and_dispatch(crm, instance)
    work(crm, instance, technician, ["P-WM-PUMP"])
    crm.complete(
        instance,
        "Task_review_order",
        MANAGER,
        review_decision="rework",
        review_comment="Check the pressure switch as well.",
        compensation_due=True,
        compensation_amount=200,
        compensation_reason="Third visit for the same fault.",
    )
    work(crm, instance, technician, ["P-WM-PUMP"])
    # The second review shows the box ticked from the case data; a client leaving it as shown
    # and not sending it again does not untick it.
    crm.complete(
        instance,
        "Task_review_order",
        MANAGER,
        review_decision="approve",
        compensation_amount=200,
        compensation_reason="Third visit for the same fault.",
    )
    assert crm.variables(instance)["compensation_due"] is True
    accept_and_settle(crm, instance)
    assert crm.open_tasks(instance) == ["Task_apply"]
