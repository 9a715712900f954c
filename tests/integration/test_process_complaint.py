"""Complaint handling (§3) end to end: staff fill in the forms, the handlers run against the records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from engine.clock import ManualClock
from engine.errors import ValidationError
from handlers.records import CallbackResult, CaseNote, Compensation, Complaint, OutboxMessage, PaymentOrder

from .crm_kit import AGENT, COMPLAINT_HANDLER, MANAGER, Crm


@pytest.fixture
def crm(db_url: str, clock: ManualClock) -> Iterator[Crm]:
    with Crm.open(db_url, clock) as world:
        yield world


INTAKE = {
    "customer_id": "CUST-A-001",
    "channel": "phone",
    "category": "billing",
    "description": "The March invoice charges the annual maintenance fee twice.",
    "severity": "high",
}
RESOLVED = {
    "complaint_valid": "founded",
    "verification_notes": "Billing run of 1 March booked the fee twice; confirmed with finance.",
    "resolution": "Duplicate charge credited on the next invoice.",
    "resolved_first_contact": True,
    "compensation_due": False,
}
SATISFIED_CALL = {
    "customer_reached": "yes",
    "problem_solved": "yes",
    "satisfaction": 5,
    "callback_comments": "Credit note received, thanks.",
}


def record_complaint(crm: Crm, **intake: object) -> str:
    instance = crm.start("complaint", AGENT, business_key="C-2026-0001")
    assert crm.open_tasks(instance) == ["Task_record_complaint"]
    crm.complete(instance, "Task_record_complaint", AGENT, **{**INTAKE, **intake})
    return instance


def test_complaint_resolved_on_first_contact_is_closed_after_a_satisfied_callback(crm: Crm) -> None:
    instance = record_complaint(crm)
    case = crm.variables(instance)
    number = case["complaint_no"]
    assert number.startswith("CMP-2026-")
    # Tier A + high severity → urgent, escalation after 4 hours (complaint_priority.dmn).
    assert (case["customer_name"], case["customer_tier"], case["priority"]) == (
        "Beijing Huaxin Hotel Group",
        "A",
        "urgent",
    )
    assert case["escalation_after"] == "PT4H"
    assert crm.open_tasks(instance) == ["Task_verify_and_resolve"]

    crm.complete(instance, "Task_verify_and_resolve", COMPLAINT_HANDLER, **RESOLVED)
    assert crm.open_tasks(instance) == ["Task_call_customer"]
    assert crm.task_data(instance, "Task_call_customer")["case_summary"].startswith(
        f"Complaint {number} (billing)"
    )
    crm.complete(instance, "Task_call_customer", AGENT, **SATISFIED_CALL)

    assert crm.status(instance) == "completed"
    complaint = crm.record(Complaint, number)
    assert complaint.status == "closed"
    assert complaint.first_contact_resolution is True
    assert complaint.complaint_valid == "founded"
    assert complaint.resolution == RESOLVED["resolution"]
    topics = [m.topic for m in crm.outbox(OutboxMessage.case_id == number)]
    assert topics == ["complaint_received", "complaint_outcome"]
    receipt = crm.outbox(OutboxMessage.topic == "complaint_received")[0]
    assert (receipt.channel, receipt.address) == ("email", "facilities@huaxin-hotels.example")
    [call] = crm.records(CallbackResult, CallbackResult.case_id == number)
    assert (call.outcome, call.satisfaction, call.agent) == ("satisfied", 5, "li.na")
    assert crm.handlers_run(instance) == [
        "lookup_customer",
        "register_complaint",
        "notify_complaint_outcome",
        "close_complaint",
        "prepare_callback",
        "record_callback_result",
    ]
    assert crm.completed_by(instance) == {
        "Task_record_complaint": "li.na",
        "Task_verify_and_resolve": "chen.hao",
        "Task_call_customer": "li.na",
    }
    assert crm.history(instance)[-1]["type"] == "instance_completed"


def test_an_unticked_compensation_box_not_sent_means_no_compensation(crm: Crm) -> None:
    # A REST client (like a browser form) sends nothing for an unticked optional checkbox.
    instance = record_complaint(crm)
    # The flag the gateway reads is defined before the form, whatever a client sends.
    assert crm.task_data(instance, "Task_verify_and_resolve")["compensation_due"] is False
    unticked = {k: v for k, v in RESOLVED.items() if k not in ("compensation_due", "resolved_first_contact")}
    crm.complete(instance, "Task_verify_and_resolve", COMPLAINT_HANDLER, **unticked)

    assert crm.incidents(instance) == []
    assert crm.open_tasks(instance) == ["Task_call_customer"]
    case = crm.variables(instance)
    assert (case["compensation_due"], case["resolved_first_contact"]) == (False, False)
    crm.complete(instance, "Task_call_customer", AGENT, **SATISFIED_CALL)
    assert crm.status(instance) == "completed"
    number = case["complaint_no"]
    assert crm.records(Compensation, Compensation.case_id == number) == []
    assert crm.record(Complaint, number).first_contact_resolution is False


def test_unknown_customer_sends_the_agent_back_to_the_intake_form(crm: Crm) -> None:
    instance = record_complaint(crm, customer_id="CUST-X-999")

    assert crm.open_tasks(instance) == ["Task_record_complaint"]
    assert crm.records(Complaint) == []
    errors = [e for e in crm.history(instance) if e["type"] == "bpmn_error"]
    assert errors[0]["data"]["code"] == "CUSTOMER_NOT_FOUND"
    assert "CUST-X-999" in errors[0]["data"]["message"]

    crm.complete(instance, "Task_record_complaint", AGENT, **INTAKE)
    assert crm.open_tasks(instance) == ["Task_verify_and_resolve"]
    assert len(crm.records(Complaint)) == 1


def test_compensation_due_runs_the_compensation_process_and_the_outcome_tells_the_customer(crm: Crm) -> None:
    instance = record_complaint(
        crm,
        customer_id="CUST-C-001",
        severity="medium",
        category="repair_delay",
        description="Technician did not come on the agreed day, twice.",
    )
    crm.complete(
        instance,
        "Task_verify_and_resolve",
        COMPLAINT_HANDLER,
        **{
            **RESOLVED,
            "resolved_first_contact": False,
            "compensation_due": True,
            "compensation_amount": 300,
            "compensation_reason": "Two missed visits; the customer took days off twice.",
        },
    )
    # The complaint waits in the called compensation process; the manager confirms the application.
    assert crm.open_tasks(instance) == ["Task_apply"]
    number = crm.variables(instance)["complaint_no"]
    crm.complete(
        instance,
        "Task_apply",
        MANAGER,
        case_type="complaint",
        case_id=number,
        customer_id="CUST-C-001",
        compensation_amount=300,
        compensation_reason="Two missed visits; the customer took days off twice.",
    )
    assert crm.task_data(instance, "Task_manager_approval")["approval_route"] == "manager"
    crm.complete(
        instance,
        "Task_manager_approval",
        MANAGER,
        manager_decision="approve",
        manager_note="Within policy for missed visits.",
    )

    assert crm.open_tasks(instance) == ["Task_call_customer"]
    [compensation] = crm.records(Compensation, Compensation.case_id == number)
    assert (compensation.status, compensation.amount, compensation.applicant) == ("approved", 300, "ma.jun")
    [payment] = crm.records(PaymentOrder, PaymentOrder.compensation_no == compensation.compensation_no)
    assert payment.amount == 300
    outcome = crm.outbox(OutboxMessage.topic == "complaint_outcome")[0]
    assert "compensation of 300" in outcome.body
    assert crm.record(Complaint, number).compensation_status == "approved"

    crm.complete(instance, "Task_call_customer", AGENT, **SATISFIED_CALL)
    assert crm.status(instance) == "completed"
    # Not first contact: the handler said so.
    assert crm.record(Complaint, number).first_contact_resolution is False


def test_dissatisfied_callback_opens_a_new_complaint_linked_to_the_first(crm: Crm) -> None:
    instance = record_complaint(crm)
    crm.complete(instance, "Task_verify_and_resolve", COMPLAINT_HANDLER, **RESOLVED)
    first = crm.variables(instance)["complaint_no"]
    crm.complete(
        instance,
        "Task_call_customer",
        AGENT,
        customer_reached="yes",
        problem_solved="no",
        satisfaction=1,
        callback_comments="The credit note never arrived.",
    )

    assert crm.status(instance) == "completed"
    complaints = crm.instances("complaint")
    assert len(complaints) == 2
    follow_up = complaints[1]["id"]
    assert crm.open_tasks(follow_up) == ["Task_record_complaint"]
    prefilled = crm.variables(follow_up)
    assert prefilled["origin"] == "callback"
    assert (prefilled["origin_case_type"], prefilled["origin_case_id"]) == ("complaint", first)
    assert (prefilled["customer_id"], prefilled["channel"]) == ("CUST-A-001", "phone")
    assert prefilled["description"] == "The credit note never arrived."
    [note] = crm.records(CaseNote, CaseNote.case_id == first)
    assert follow_up in note.text
    # The customer's tier (A) comes along: the intake gets tier A's deadline, not the default.
    assert prefilled["customer_tier"] == "A"
    assert crm.sla_tier(follow_up, "Task_record_complaint") == "A"
    [call] = crm.records(CallbackResult, CallbackResult.case_id == first)
    assert call.outcome == "dissatisfied"

    # The agent checks the prefilled intake and the new complaint is registered with its origin.
    crm.complete(
        follow_up,
        "Task_record_complaint",
        AGENT,
        **{k: prefilled[k] for k in ("customer_id", "channel", "category", "description", "severity")},
    )
    second = crm.variables(follow_up)["complaint_no"]
    assert second != first
    record = crm.record(Complaint, second)
    assert (record.origin, record.origin_case_id) == ("callback", first)


def test_a_complaint_message_without_the_tier_takes_it_from_the_customer_record(crm: Crm) -> None:
    # Another sender of new_complaint may leave the tier out; the customer record has it.
    [started] = crm.correlate(
        "new_complaint",
        "C-2026-0100",
        customer_id="CUST-B-002",
        description="Called again about the noisy washer.",
        origin_case_type="repair",
        origin_case_id="RO-2025-00917",
    )
    assert crm.open_tasks(started) == ["Task_record_complaint"]
    assert crm.variables(started)["customer_tier"] == "B"
    assert crm.sla_tier(started, "Task_record_complaint") == "B"


def test_a_bad_resolution_form_is_refused_field_by_field_and_nothing_changes(crm: Crm) -> None:
    instance = record_complaint(crm)
    before = crm.instance(instance)
    history = len(crm.history(instance))
    outbox = len(crm.outbox())

    with pytest.raises(ValidationError) as refused:
        crm.complete(
            instance,
            "Task_verify_and_resolve",
            COMPLAINT_HANDLER,
            **{
                "complaint_valid": "maybe",  # not an option
                "resolution": "Credit",  # fine
                "resolved_first_contact": "perhaps",  # not a truth value
                "compensation_due": True,
                "compensation_amount": 0,  # below the minimum of 1
                "compensation_reason": "x" * 3000,  # longer than 2000
            },
        )  # verification_notes missing

    fields = {e.field for e in refused.value.errors}
    assert fields == {
        "complaint_valid",
        "verification_notes",
        "resolved_first_contact",
        "compensation_amount",
        "compensation_reason",
    }
    messages = " ".join(e.message for e in refused.value.errors)
    assert "'maybe' is not one of the options" in messages
    assert "at least 1" in messages
    after = crm.instance(instance)
    assert after["version"] == before["version"]
    assert after["variables"] == before["variables"]
    assert len(crm.history(instance)) == history
    assert len(crm.outbox()) == outbox
    assert crm.open_tasks(instance) == ["Task_verify_and_resolve"]

    with pytest.raises(ValidationError) as wrong_type:
        crm.complete(
            instance,
            "Task_verify_and_resolve",
            COMPLAINT_HANDLER,
            **{
                **RESOLVED,
                "compensation_due": True,
                "compensation_amount": "a lot",
                "compensation_reason": "Goodwill",
            },
        )
    [error] = wrong_type.value.errors
    assert error.field == "compensation_amount" and "must be a number" in error.message
    assert crm.instance(instance)["version"] == before["version"]


def test_a_complaint_not_resolved_in_time_escalates_to_the_service_manager(crm: Crm) -> None:
    instance = record_complaint(crm)  # tier A, high: urgent, escalation after 4 hours
    number = crm.variables(instance)["complaint_no"]
    crm.tick(timedelta(hours=3, minutes=59))
    assert crm.open_tasks(instance) == ["Task_verify_and_resolve"]
    assert crm.record(Complaint, number).escalated_at is None

    crm.tick(timedelta(minutes=2))
    assert crm.open_tasks(instance) == ["Task_handle_escalation", "Task_verify_and_resolve"]
    complaint = crm.record(Complaint, number)
    assert complaint.status == "escalated" and complaint.escalated_at is not None
    [alert] = crm.outbox(OutboxMessage.topic == "complaint_escalated")
    assert (alert.recipient_kind, alert.recipient) == ("role", "service_manager")
    form = crm.task_data(instance, "Task_handle_escalation")
    assert (form["priority"], form["escalated"]) == ("urgent", True)

    crm.complete(
        instance,
        "Task_handle_escalation",
        MANAGER,
        escalation_action="expedite",
        escalation_instruction="Call the hotel's finance director today; credit note by tonight.",
    )
    # The manager's instruction reaches the complaint handlers' inbox and stays on the complaint.
    [instruction] = crm.outbox(OutboxMessage.topic == "complaint_escalation_instruction")
    assert (instruction.recipient_kind, instruction.recipient, instruction.channel) == (
        "role",
        "complaint_handler",
        "inbox",
    )
    assert number in instruction.subject and instruction.case_id == number
    assert "Expedite" in instruction.body and "credit note by tonight" in instruction.body
    [note] = crm.records(CaseNote, CaseNote.case_id == number)
    assert (note.case_type, note.author) == ("complaint", "ma.jun")
    assert "credit note by tonight" in note.text
    assert crm.open_tasks(instance) == ["Task_verify_and_resolve"]
    # The handler still owns the case and resolves it; it no longer counts as first contact.
    crm.complete(instance, "Task_verify_and_resolve", COMPLAINT_HANDLER, **RESOLVED)
    crm.complete(instance, "Task_call_customer", AGENT, **SATISFIED_CALL)
    assert crm.status(instance) == "completed"
    closed = crm.record(Complaint, number)
    assert (closed.status, closed.first_contact_resolution) == ("closed", False)
    assert crm.completed_by(instance)["Task_handle_escalation"] == "ma.jun"


def test_deadline_reminders_reach_staff_through_the_crm_outbox(crm: Crm) -> None:
    instance = record_complaint(crm)
    due = crm.task(instance, "Task_verify_and_resolve")["due_at"]
    assert due is not None  # processes/sla.toml: complaint handling, one working day for tier A
    crm.tick(timedelta(days=3))
    stages = {m.topic for m in crm.outbox(OutboxMessage.case_id == "C-2026-0001")}
    assert {"sla.reminder", "sla.breach"} <= stages
    reminder = crm.outbox(OutboxMessage.topic == "sla.reminder")[0]
    assert (reminder.recipient_kind, reminder.recipient, reminder.channel) == (
        "role",
        "complaint_handler",
        "inbox",
    )
    assert "complaint" in reminder.body
