"""Compensation approval (§7) started on its own by a service manager: limits, director, rejection."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from engine.clock import ManualClock
from engine.errors import ValidationError
from handlers.records import Compensation, OutboxMessage, PaymentOrder

from .crm_kit import DIRECTOR, MANAGER, Crm


@pytest.fixture
def crm(db_url: str, clock: ManualClock) -> Iterator[Crm]:
    with Crm.open(db_url, clock) as world:
        yield world


GOODWILL = {
    "case_type": "none",
    "customer_id": "CUST-B-002",
    "compensation_reason": "Residents without washing machines for a week after the supplier's recall.",
}


def apply(crm: Crm, amount: float, **application: object) -> str:
    instance = crm.start("compensation", MANAGER, business_key="COMP-REQ-1")
    assert crm.open_tasks(instance) == ["Task_apply"]
    crm.complete(
        instance, "Task_apply", MANAGER, **{**GOODWILL, "compensation_amount": amount, **application}
    )
    return instance


def test_within_the_manager_limit_the_manager_alone_approves_and_finance_gets_the_payment_order(
    crm: Crm,
) -> None:
    instance = apply(crm, 1200)
    data = crm.task_data(instance, "Task_manager_approval")
    assert (data["approval_route"], data["manager_limit"]) == ("manager", 5000)
    assert data["customer_name"] == "West Lake Residences Property Management"  # filled in by the handler
    crm.complete(
        instance,
        "Task_manager_approval",
        MANAGER,
        manager_decision="approve",
        manager_note="Goodwill within policy.",
    )

    assert crm.status(instance) == "completed"
    case = crm.variables(instance)
    assert case["compensation_status"] == "approved"
    record = crm.record(Compensation, case["compensation_no"])
    assert (record.status, record.amount, record.case_id, record.applicant) == (
        "approved",
        Decimal("1200.00"),
        None,
        "ma.jun",
    )
    payment = crm.record(PaymentOrder, case["payment_order_no"])
    assert (payment.amount, payment.customer_id) == (Decimal("1200.00"), "CUST-B-002")
    topics = {(m.topic, m.recipient) for m in crm.outbox(OutboxMessage.case_id == record.compensation_no)}
    assert topics == {("compensation_approved", "CUST-B-002"), ("payment_order", "finance")}
    assert crm.handlers_run(instance) == [
        "register_compensation",
        "notify_compensation_approved",
        "post_compensation_to_finance",
    ]


def test_the_manager_rejects_and_the_applicant_is_told_why(crm: Crm) -> None:
    instance = apply(crm, 800)
    crm.complete(
        instance,
        "Task_manager_approval",
        MANAGER,
        manager_decision="reject",
        manager_comment="The recall compensation is paid by the supplier directly.",
    )

    assert crm.status(instance) == "completed"
    case = crm.variables(instance)
    assert case["compensation_status"] == "rejected"
    assert (
        case["compensation_rejection_reason"] == "The recall compensation is paid by the supplier directly."
    )
    record = crm.record(Compensation, case["compensation_no"])
    assert record.status == "rejected" and record.rejection_reason == case["compensation_rejection_reason"]
    assert crm.records(PaymentOrder) == []
    [told] = crm.outbox(OutboxMessage.topic == "compensation_rejected")
    assert (told.recipient_kind, told.recipient) == ("user", "ma.jun")
    assert "paid by the supplier" in told.body


@pytest.mark.parametrize(("decision", "status"), [("approve", "approved"), ("reject", "rejected")])
def test_above_the_limit_the_director_decides(crm: Crm, decision: str, status: str) -> None:
    instance = apply(crm, 12000)
    crm.complete(
        instance,
        "Task_manager_approval",
        MANAGER,
        manager_decision="approve",
        manager_note="Long outage for 40 households; I support it.",
    )
    assert crm.open_tasks(instance) == ["Task_director_approval"]
    assert crm.task_data(instance, "Task_director_approval")["approval_route"] == "manager_and_director"
    answer = (
        {"director_note": "Agreed."}
        if decision == "approve"
        else {"director_comment": "Offer a free service visit instead of cash."}
    )
    crm.complete(instance, "Task_director_approval", DIRECTOR, director_decision=decision, **answer)

    assert crm.status(instance) == "completed"
    case = crm.variables(instance)
    assert crm.record(Compensation, case["compensation_no"]).status == status
    assert len(crm.records(PaymentOrder)) == (1 if decision == "approve" else 0)
    if decision == "reject":
        assert case["compensation_rejection_reason"] == "Offer a free service visit instead of cash."
    assert crm.completed_by(instance) == {
        "Task_apply": "ma.jun",
        "Task_manager_approval": "ma.jun",
        "Task_director_approval": "gao.yan",
    }


def test_a_bad_application_is_refused_field_by_field_and_nothing_is_recorded(crm: Crm) -> None:
    instance = crm.start("compensation", MANAGER, business_key="COMP-REQ-2")
    with pytest.raises(ValidationError) as refused:
        crm.complete(
            instance,
            "Task_apply",
            MANAGER,
            case_type="warranty",
            compensation_amount=2_000_000,
            compensation_reason="Sorry",
        )
    errors = {e.field: e.message for e in refused.value.errors}
    # case_id is shown (so required) for every case type but "none".
    assert set(errors) == {
        "case_type",
        "case_id",
        "customer_id",
        "compensation_amount",
        "compensation_reason",
    }
    assert "not one of the options" in errors["case_type"]
    assert "at most 1000000" in errors["compensation_amount"]
    assert "at least 10 characters" in errors["compensation_reason"]
    assert crm.records(Compensation) == []
    assert crm.open_tasks(instance) == ["Task_apply"]
    assert [e["type"] for e in crm.history(instance)] == ["instance_started", "task_created"]
