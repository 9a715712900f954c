"""Service agreement lifecycle (§10) end to end: draft, approval, signing, activation, amendments as
versions, termination; refusals of invalid drafts. The clock stands on 5 January 2026."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.clock import ManualClock
from engine.errors import ValidationError
from handlers.agreement_terms import service_level_on
from handlers.records import Agreement, AgreementVersion, OutboxMessage

from .crm_kit import ACCOUNT_MANAGER, AGENT, MANAGER, Crm


@pytest.fixture
def crm(db_url: str, clock: ManualClock) -> Iterator[Crm]:
    with Crm.open(db_url, clock) as world:
        yield world


TODAY = date(2026, 1, 5)
DRAFT = {
    "customer_id": "CUST-A-002",
    "agreement_title": "Medical centre cooling and refrigeration service",
    "service_level": "standard",
    "agreement_start_date": "2026-01-05",
    "agreement_end_date": "2027-12-31",
    "annual_fee": 36000,
    "covered_products": "RF-450\nAC-3500",
    "coverage_terms": "Parts and labour for refrigerators and air conditioners; response within 8 hours.",
    "renewal_notice_days": 60,
}
SIGNED = {
    "signing_outcome": "signed",
    "customer_signatory": "Dr. Lu Yan, operations director",
    "signed_on": "2026-01-05",
    "signed_document_ref": "DMS-2026-000311",
}


def level(crm: Crm, on: date = TODAY, customer: str = "CUST-A-002") -> str:
    with crm.session() as session:
        return service_level_on(session, customer, on)


def draft(crm: Crm, key: str = "AGR-REQ-1", **changes: object) -> str:
    instance = crm.start("service_agreement", ACCOUNT_MANAGER, business_key=key)
    crm.complete(instance, "Task_draft", ACCOUNT_MANAGER, **{**DRAFT, **changes})
    return instance


def test_agreement_is_drafted_approved_signed_activated_amended_and_terminated(crm: Crm) -> None:
    instance = draft(crm, agreement_end_date="2025-12-31")
    assert crm.open_tasks(instance) == ["Task_draft"]
    error = crm.task_data(instance, "Task_draft")["agreement_error"]
    assert error == "The end date 2025-12-31 must be after the start date 2026-01-05"

    crm.complete(instance, "Task_draft", ACCOUNT_MANAGER, **DRAFT)
    number = crm.variables(instance)["agreement_no"]
    assert crm.task_data(instance, "Task_approve")["activation_at"] == "2026-01-05T00:00:00+08:00"
    crm.complete(
        instance,
        "Task_approve",
        MANAGER,
        agreement_decision="revise",
        approval_comment="Fee below our floor for two product lines; at least 42000.",
    )
    assert crm.task_data(instance, "Task_draft")["approval_comment"].startswith("Fee below our floor")
    crm.complete(instance, "Task_draft", ACCOUNT_MANAGER, **{**DRAFT, "annual_fee": 42000})
    assert crm.variables(instance)["agreement_no"] == number  # the same agreement, revised
    crm.complete(instance, "Task_approve", MANAGER, agreement_decision="approve")
    assert level(crm) == "none"
    crm.complete(instance, "Task_sign", ACCOUNT_MANAGER, **SIGNED)

    # The start date is today: the timer has fired and the agreement is in force.
    agreement = crm.record(Agreement, number)
    assert agreement.status == "active"
    assert (agreement.start_date, agreement.end_date) == (TODAY, date(2027, 12, 31))
    first = crm.record(AgreementVersion, (number, 1))
    assert (first.annual_fee, first.signatory, first.document_ref) == (
        Decimal("42000.00"),
        "Dr. Lu Yan, operations director",
        "DMS-2026-000311",
    )
    assert level(crm) == "standard"
    topics = {(m.topic, m.recipient) for m in crm.outbox(OutboxMessage.case_id == number)}
    assert topics == {("agreement_active", "CUST-A-002"), ("agreement_active", "xu.ming")}

    # Staff see the level on every new case of the customer.
    complaint = crm.start("complaint", AGENT)
    crm.complete(
        complaint,
        "Task_record_complaint",
        AGENT,
        customer_id="CUST-A-002",
        channel="email",
        category="service_attitude",
        description="The hotline hung up on our head nurse.",
        severity="low",
    )
    assert crm.variables(complaint)["customer_service_level"] == "standard"

    # Amendment (§10.2): approved → version 2 from its effective date.
    crm.correlate("agreement_amendment_requested", "AGR-REQ-1")
    crm.complete(
        instance,
        "Task_draft_amendment",
        ACCOUNT_MANAGER,
        amendment_summary="Upgrade to premium with 4-hour response for the ICU refrigerators.",
        new_service_level="premium",
        new_annual_fee=55000,
        new_covered_products="all",
        new_coverage_terms="Parts and labour for every appliance; 4-hour response.",
        amendment_effective_date="2026-02-01",
    )
    crm.complete(instance, "Task_approve_amendment", MANAGER, amendment_decision="approve")
    second = crm.record(AgreementVersion, (number, 2))
    assert (second.service_level, second.annual_fee, second.effective_from) == (
        "premium",
        Decimal("55000.00"),
        date(2026, 2, 1),
    )
    assert (level(crm), level(crm, date(2026, 2, 1))) == ("standard", "premium")
    assert crm.record(AgreementVersion, (number, 1)).service_level == "standard"  # earlier version kept

    # A rejected amendment changes nothing but tells the account owner.
    crm.correlate("agreement_amendment_requested", "AGR-REQ-1")
    crm.complete(
        instance,
        "Task_draft_amendment",
        ACCOUNT_MANAGER,
        amendment_summary="Drop the air conditioners from the contract.",
        new_service_level="basic",
        new_annual_fee=20000,
        new_covered_products="RF-450",
        new_coverage_terms="Labour only.",
        amendment_effective_date="2026-03-01",
    )
    crm.complete(
        instance,
        "Task_approve_amendment",
        MANAGER,
        amendment_decision="reject",
        amendment_comment="Not before the summer season.",
    )
    assert crm.records(AgreementVersion, AgreementVersion.agreement_no == number)[-1].version == 2
    [rejected] = crm.outbox(OutboxMessage.topic == "amendment_rejected")
    assert rejected.recipient == "xu.ming" and "summer season" in rejected.body

    # Termination (§10.3) ends the service level from its date and the lifecycle at once.
    terminate(
        crm,
        instance,
        "2026-03-01",
        "The hospital moves to a new campus with its own maintenance team.",
        termination_settlement="Fee refunded pro rata from March.",
    )
    assert crm.status(instance) == "completed"
    agreement = crm.record(Agreement, number)
    assert (agreement.status, agreement.terminated_on) == ("terminated", date(2026, 3, 1))
    assert (level(crm, date(2026, 2, 28)), level(crm, date(2026, 3, 1))) == ("premium", "none")
    assert crm.open_tasks(instance) == []
    versions = crm.records(AgreementVersion, AgreementVersion.agreement_no == number)
    assert sorted(v.version for v in versions) == [1, 2]


def test_the_service_manager_rejects_the_draft_and_the_account_manager_is_told(crm: Crm) -> None:
    instance = draft(crm)
    number = crm.variables(instance)["agreement_no"]
    crm.complete(
        instance,
        "Task_approve",
        MANAGER,
        agreement_decision="reject",
        approval_comment="The customer is in a payment dispute; no new contracts.",
    )
    assert crm.status(instance) == "completed"
    assert crm.record(Agreement, number).status == "rejected"
    [told] = crm.outbox(OutboxMessage.topic == "agreement_rejected")
    assert (told.recipient, told.case_id) == ("xu.ming", number)
    assert "payment dispute" in told.body
    assert level(crm) == "none"


def test_the_customer_declines_to_sign(crm: Crm) -> None:
    instance = draft(crm)
    number = crm.variables(instance)["agreement_no"]
    crm.complete(instance, "Task_approve", MANAGER, agreement_decision="approve")
    crm.complete(
        instance,
        "Task_sign",
        ACCOUNT_MANAGER,
        signing_outcome="declined",
        decline_reason="Found a cheaper local provider.",
    )
    assert crm.status(instance) == "completed"
    agreement = crm.record(Agreement, number)
    assert (agreement.status, agreement.status_note) == ("declined", "Found a cheaper local provider.")
    assert level(crm) == "none"


def test_an_agreement_overlapping_the_one_in_force_is_refused_with_the_reason(crm: Crm) -> None:
    assert level(crm, customer="CUST-A-001") == "premium"  # demo agreement AGR-DEMO-001
    instance = draft(crm, customer_id="CUST-A-001")
    assert crm.open_tasks(instance) == ["Task_draft"]
    error = crm.task_data(instance, "Task_draft")["agreement_error"]
    assert "AGR-DEMO-001" in error and "overlaps 2026-01-05 to 2027-12-31" in error
    with crm.session() as session:
        drafts = list(session.scalars(select(Agreement).where(Agreement.status == "draft")))
    assert drafts == []


def sign(crm: Crm, key: str, **changes: object) -> tuple[str, str]:
    instance = draft(crm, key, **changes)
    crm.complete(instance, "Task_approve", MANAGER, agreement_decision="approve")
    crm.complete(instance, "Task_sign", ACCOUNT_MANAGER, **SIGNED)
    return instance, crm.variables(instance)["agreement_no"]


def redraft(crm: Crm, instance: str, start: str, end: str) -> None:
    """The draft sent back with an error, submitted again for the term ``start`` to ``end``."""
    crm.complete(
        instance,
        "Task_draft",
        ACCOUNT_MANAGER,
        **{**DRAFT, "agreement_start_date": start, "agreement_end_date": end},
    )


def terminate(crm: Crm, instance: str, effective: str, reason: str, **more: object) -> None:
    """The customer asks to end the agreement AGR-REQ-1 with effect from ``effective``."""
    crm.correlate("agreement_termination_requested", "AGR-REQ-1")
    crm.complete(
        instance,
        "Task_record_termination",
        ACCOUNT_MANAGER,
        termination_requested_by="customer",
        termination_reason=reason,
        termination_date=effective,
        **more,
    )


def test_a_terminated_agreement_still_in_force_refuses_an_overlap_with_its_remaining_term(crm: Crm) -> None:
    instance, number = sign(crm, "AGR-REQ-1")
    # Terminated with effect from 1 June: in force until 31 May.
    terminate(crm, instance, "2026-06-01", "Moving to a new campus in the summer.")
    assert crm.record(Agreement, number).status == "terminated"
    assert (level(crm, date(2026, 5, 31)), level(crm, date(2026, 6, 1))) == ("standard", "none")

    successor = draft(crm, "AGR-REQ-2", agreement_start_date="2026-03-01", agreement_end_date="2026-12-31")
    assert crm.open_tasks(successor) == ["Task_draft"]
    error = crm.task_data(successor, "Task_draft")["agreement_error"]
    assert number in error and "terminated" in error and "2026-05-31" in error
    assert crm.records(Agreement, Agreement.status == "draft") == []

    # From the day the termination takes effect the customer is free to sign a new one.
    redraft(crm, successor, "2026-06-01", "2026-12-31")
    assert crm.open_tasks(successor) == ["Task_approve"]


def test_an_agreement_terminated_from_its_first_day_leaves_its_term_free(crm: Crm) -> None:
    instance, number = sign(crm, "AGR-REQ-1")  # from 2026-01-05
    terminate(crm, instance, "2026-01-05", "Rescinded before it started.")
    assert crm.record(Agreement, number).status == "terminated"
    assert level(crm, date(2026, 1, 5)) == "none"

    successor = draft(crm, "AGR-REQ-2", agreement_start_date="2026-01-02", agreement_end_date="2026-12-31")
    assert crm.open_tasks(successor) == ["Task_approve"]


def test_an_expired_agreement_refuses_a_backdated_overlap_with_its_term(crm: Crm) -> None:
    _, number = sign(crm, "AGR-REQ-1", agreement_end_date="2026-01-31")
    crm.tick(datetime(2026, 1, 31, 16, 0, tzinfo=UTC))
    assert crm.record(Agreement, number).status == "expired"

    successor = draft(crm, "AGR-REQ-2", agreement_start_date="2026-01-10", agreement_end_date="2026-12-31")
    assert crm.open_tasks(successor) == ["Task_draft"]
    error = crm.task_data(successor, "Task_draft")["agreement_error"]
    assert number in error and "expired" in error and "2026-01-31" in error
    redraft(crm, successor, "2026-02-01", "2026-12-31")
    assert crm.open_tasks(successor) == ["Task_approve"]


def test_unknown_customer_goes_back_to_the_draft(crm: Crm) -> None:
    instance = draft(crm, customer_id="CUST-NONE")
    assert crm.open_tasks(instance) == ["Task_draft"]
    assert [e["data"]["code"] for e in crm.history(instance) if e["type"] == "bpmn_error"] == [
        "CUSTOMER_NOT_FOUND"
    ]


def test_a_bad_draft_is_refused_field_by_field_and_nothing_is_stored(crm: Crm) -> None:
    instance = crm.start("service_agreement", ACCOUNT_MANAGER, business_key="AGR-REQ-9")
    with pytest.raises(ValidationError) as refused:
        crm.complete(
            instance,
            "Task_draft",
            ACCOUNT_MANAGER,
            **{
                **DRAFT,
                "agreement_title": None,
                "service_level": "gold",
                "annual_fee": -10,
                "renewal_notice_days": 500,
                "agreement_start_date": "next Monday",
            },
        )
    errors = {e.field: e.message for e in refused.value.errors}
    assert set(errors) == {
        "agreement_title",
        "service_level",
        "annual_fee",
        "renewal_notice_days",
        "agreement_start_date",
    }
    assert "at most 365" in errors["renewal_notice_days"]
    assert "date" in errors["agreement_start_date"]
    assert crm.records(Agreement, Agreement.customer_id == "CUST-A-002") == []
    assert crm.open_tasks(instance) == ["Task_draft"]


def test_a_signed_agreement_waits_for_its_start_reminds_before_its_end_and_expires(crm: Crm) -> None:
    instance = draft(
        crm, agreement_start_date="2026-02-01", agreement_end_date="2026-12-31", renewal_notice_days=45
    )
    number = crm.variables(instance)["agreement_no"]
    crm.complete(instance, "Task_approve", MANAGER, agreement_decision="approve")
    crm.complete(instance, "Task_sign", ACCOUNT_MANAGER, **SIGNED)
    assert crm.record(Agreement, number).status == "signed"
    assert level(crm, date(2026, 2, 1)) == "none"  # signed, not yet in force

    # Midnight of 1 February in Shanghai is 16:00 UTC the day before.
    crm.tick(datetime(2026, 1, 31, 15, 59, tzinfo=UTC))
    assert crm.record(Agreement, number).status == "signed"
    crm.tick(datetime(2026, 1, 31, 16, 0, tzinfo=UTC))
    assert crm.record(Agreement, number).status == "active"
    assert level(crm, date(2026, 2, 1)) == "standard"

    # 45 days before the end (24:00 on 31 December): 17 November, midnight in Shanghai.
    crm.tick(datetime(2026, 11, 16, 15, 59, tzinfo=UTC))
    assert crm.outbox(OutboxMessage.topic == "renewal_reminder") == []
    crm.tick(datetime(2026, 11, 16, 16, 0, tzinfo=UTC))
    [reminder] = crm.outbox(OutboxMessage.topic == "renewal_reminder")
    assert reminder.recipient == "xu.ming" and "ends on 2026-12-31" in reminder.subject
    assert crm.status(instance) == "running"

    crm.tick(datetime(2026, 12, 31, 16, 0, tzinfo=UTC))
    assert crm.status(instance) == "completed"
    assert crm.record(Agreement, number).status == "expired"
    assert (level(crm, date(2026, 12, 31)), level(crm, date(2027, 1, 1))) == ("standard", "none")
    assert {m.recipient for m in crm.outbox(OutboxMessage.topic == "agreement_expired")} == {
        "CUST-A-002",
        "xu.ming",
    }
    assert crm.handlers_run(instance)[-3:] == [
        "activate_agreement",
        "send_renewal_reminder",
        "expire_agreement",
    ]
