"""Customer callback (§4.7) started on its own for a closed case: satisfied, dissatisfied, unreachable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from engine.clock import ManualClock
from engine.errors import ValidationError
from handlers.records import CallbackResult, CaseNote, OutboxMessage

from .crm_kit import AGENT, Crm


@pytest.fixture
def crm(db_url: str, clock: ManualClock) -> Iterator[Crm]:
    with Crm.open(db_url, clock) as world:
        yield world


CASE = {
    "case_type": "repair",
    "case_id": "RO-2025-00917",
    "customer_id": "CUST-B-002",
    "product": "Front-load washing machine WM-700",
    "solution": "Replaced the door lock.",
}


def start(crm: Crm) -> str:
    instance = crm.start("callback", AGENT, business_key="RO-2025-00917", **CASE)
    assert crm.open_tasks(instance) == ["Task_call_customer"]
    return instance


def test_a_satisfied_customer_ends_the_callback_and_the_answer_is_kept(crm: Crm) -> None:
    instance = start(crm)
    form = crm.task_data(instance, "Task_call_customer")
    assert (
        form["case_summary"]
        == "Repair RO-2025-00917 of Front-load washing machine WM-700: Replaced the door lock."
    )
    assert (form["customer_name"], form["customer_phone"]) == (
        "West Lake Residences Property Management",
        "+86 571 8777 4004",
    )
    assert (form["callback_attempts"], form["callback_max_attempts"]) == (0, 3)

    crm.complete(
        instance,
        "Task_call_customer",
        AGENT,
        customer_reached="yes",
        problem_solved="partly",
        satisfaction=3,
        callback_comments="Door closes, but the seal squeaks.",
    )
    assert crm.status(instance) == "completed"
    assert crm.variables(instance)["callback_outcome"] == "satisfied"
    [answer] = crm.records(CallbackResult)
    assert (answer.case_id, answer.attempt, answer.reached, answer.problem_solved, answer.satisfaction) == (
        "RO-2025-00917",
        1,
        True,
        "partly",
        3,
    )
    assert crm.instances("complaint") == []


def test_a_dissatisfied_customer_gets_a_repair_quality_complaint(crm: Crm) -> None:
    instance = start(crm)
    crm.complete(
        instance,
        "Task_call_customer",
        AGENT,
        customer_reached="yes",
        problem_solved="yes",
        satisfaction=2,
        callback_comments="",
    )
    assert crm.status(instance) == "completed"
    [complaint] = crm.instances("complaint")
    intake = crm.task_data(complaint["id"], "Task_record_complaint")
    assert (intake["category"], intake["origin_case_type"], intake["origin_case_id"]) == (
        "repair_quality",
        "repair",
        "RO-2025-00917",
    )
    assert (
        intake["description"]
        == "Not satisfied with repair RO-2025-00917 (problem solved: yes, satisfaction 2/5)"
    )
    assert complaint["business_key"] == "RO-2025-00917"
    assert len(crm.records(CaseNote, CaseNote.case_id == "RO-2025-00917")) == 1
    # The customer's tier comes along, so the intake gets the tier's deadline, not the default.
    assert intake["customer_tier"] == "B"
    assert crm.sla_tier(complaint["id"], "Task_record_complaint") == "B"


def test_an_unreachable_customer_is_tried_again_later(crm: Crm) -> None:
    instance = start(crm)
    crm.complete(
        instance,
        "Task_call_customer",
        AGENT,
        customer_reached="no",
        unreachable_note="Voicemail, left a message.",
    )
    assert crm.status(instance) == "running"
    assert crm.open_tasks(instance) == []  # waiting for the retry timer
    case = crm.variables(instance)
    assert (case["callback_outcome"], case["callback_attempts"], case["callback_status"]) == (
        "unreachable",
        1,
        "retrying",
    )
    [answer] = crm.records(CallbackResult)
    assert (answer.reached, answer.comments, answer.outcome) == (
        False,
        "Voicemail, left a message.",
        "unreachable",
    )


def test_a_satisfaction_outside_one_to_five_is_refused(crm: Crm) -> None:
    instance = start(crm)
    with pytest.raises(ValidationError) as refused:
        crm.complete(
            instance,
            "Task_call_customer",
            AGENT,
            customer_reached="yes",
            problem_solved="maybe",
            satisfaction=7,
        )
    assert {e.field for e in refused.value.errors} == {"problem_solved", "satisfaction"}
    assert crm.records(CallbackResult) == []


def test_the_agent_tries_again_after_two_hours_and_gives_up_after_three_attempts(crm: Crm) -> None:
    instance = start(crm)
    for attempt in (1, 2, 3):
        assert crm.task_data(instance, "Task_call_customer")["callback_attempts"] == attempt - 1
        crm.complete(
            instance,
            "Task_call_customer",
            AGENT,
            customer_reached="no",
            unreachable_note=f"Attempt {attempt}: no answer.",
        )
        if attempt < 3:
            crm.tick(timedelta(hours=1, minutes=59))
            assert crm.open_tasks(instance) == []  # not yet
            crm.tick(timedelta(minutes=2))
            assert crm.open_tasks(instance) == ["Task_call_customer"]

    assert crm.status(instance) == "completed"
    assert crm.variables(instance)["callback_status"] == "unreachable"
    answers = crm.records(CallbackResult)
    assert [(a.attempt, a.outcome) for a in answers] == [
        (1, "unreachable"),
        (2, "unreachable"),
        (3, "unreachable"),
    ]
    [alert] = crm.outbox(OutboxMessage.topic == "callback_unreachable")
    assert alert.recipient == "service_manager" and "3 call(s)" in alert.body
    assert crm.handlers_run(instance)[-1] == "record_callback_unreachable"


def test_a_customer_reached_at_the_second_attempt_is_asked_normally(crm: Crm) -> None:
    instance = start(crm)
    crm.complete(instance, "Task_call_customer", AGENT, customer_reached="no", unreachable_note="Busy.")
    crm.tick(timedelta(hours=2, minutes=1))
    crm.complete(
        instance,
        "Task_call_customer",
        AGENT,
        customer_reached="yes",
        problem_solved="yes",
        satisfaction=5,
        callback_comments="All good now.",
    )
    assert crm.status(instance) == "completed"
    assert [a.outcome for a in crm.records(CallbackResult)] == ["unreachable", "satisfied"]
    assert crm.variables(instance)["callback_attempts"] == 2
