"""SLA deadlines, staged alarms, pauses and the scheduler's exactly-once firing, on SQLite and
PostgreSQL, with a ManualClock: every wake-up is one ``wake_once()`` at the clock's time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.actors import Actor
from engine.bpmn.validation import SourceFile
from engine.clock import ManualClock, SystemClock, as_utc
from engine.engine import Engine, EngineConfig
from engine.errors import BadRequest, Conflict, Forbidden, ValidationError
from engine.handler_registry import HandlerRegistry
from engine.scheduler.claim import claim, release
from engine.scheduler.models import Alarm, Notification, SlaClockRow
from engine.scheduler.service import SchedulerService, start_background_scheduler
from engine.scheduler.sources import SLA_STAGES
from tests.conftest import make_engine

AGENT = Actor.person("alice", ["agent"])
OTHER_AGENT = Actor.person("bob", ["agent"])
MANAGER = Actor.person("mia", ["service_manager"])
OPERATOR = Actor.operator("operator")
MONDAY_9_UTC = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai

POLICIES = """
[defaults]
calendar = "office"
reminder_before = "PT1H"
warning_at = 0.75
escalate_after = "PT2H"

[roles]
agent = "service_manager"

[calendars.office]
timezone = "Asia/Shanghai"
hours = ["09:00-12:00", "13:00-18:00"]
holidays = [2026-01-07]

# Round the clock, so the arithmetic of most tests is plain.
[policies.fast]
calendar = "calendar"
durations = { A = "PT2H", B = "PT3H", default = "PT4H" }
match = [
    { process = "sla_fast" }, { process = "sla_wait" }, { process = "sla_dated" }, { process = "sla_nested" },
]

[policies.office]
durations = { A = "PT4H", C = "P2D", default = "P2D" }
match = [{ process = "sla_office" }]

[[customer_waits]]
process = "sla_wait"
element = "customer_reply"
"""

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_{key}"
    targetNamespace="http://bpmn.io/schema/bpmn">
  {messages}
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    {body}
  </bpmn:process>
</bpmn:definitions>"""

ONE_TASK = """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="handle" name="Handle the case" camunda:candidateGroups="agent" {due}/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>"""

WAITING = """
    <bpmn:startEvent id="start"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:userTask id="handle" name="Handle the case" camunda:candidateGroups="agent"/>
    <bpmn:intermediateCatchEvent id="customer_reply" name="Customer replies">
      <bpmn:messageEventDefinition messageRef="Msg_reply"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:parallelGateway id="join"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="handle"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="customer_reply"/>
    <bpmn:sequenceFlow id="f4" sourceRef="handle" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="customer_reply" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end"/>"""


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "sla.toml"
    path.write_text(POLICIES, encoding="utf-8")
    return path


@pytest.fixture
def sla_engine(db_url: str, clock: ManualClock, policy_file: Path) -> Iterator[Engine]:
    engine = make_engine(db_url, HandlerRegistry(), clock, sla_policies=policy_file)
    deploy(engine, "sla_fast", ONE_TASK.format(due=""))
    deploy(engine, "sla_office", ONE_TASK.format(due=""))
    deploy(engine, "sla_dated", ONE_TASK.format(due='camunda:dueDate="PT10H"'))
    deploy(engine, "sla_wait", WAITING, '<bpmn:message id="Msg_reply" name="reply"/>')
    yield engine
    engine.close()


@pytest.fixture
def scheduler(sla_engine: Engine) -> SchedulerService:
    return SchedulerService(sla_engine, owner="scheduler-1")


def deploy(engine: Engine, key: str, body: str, messages: str = "") -> None:
    xml = BPMN.format(key=key, body=body, messages=messages).encode()
    engine.deployer.deploy([SourceFile(f"{key}.bpmn", xml)], actor="designer")


def start(
    engine: Engine, key: str, tier: str | None = None, business_key: str | None = None
) -> dict[str, Any]:
    variables = {"customer_tier": tier} if tier else {}
    instance_id = engine.runtime.start(
        actor=AGENT, process_key=key, variables=variables, business_key=business_key
    )
    [task] = engine.queries.tasks(instance_id=instance_id)
    return task


def stages_raised(engine: Engine, task_id: str) -> list[str]:
    return [a["stage"] for a in reversed(engine.alarms.alarms(task_id=task_id))]


def wake(scheduler: SchedulerService) -> list[str]:
    return [fired.kind for fired in scheduler.wake_once().fired]


def test_deadline_depends_on_the_customer_tier(sla_engine: Engine, clock: ManualClock) -> None:
    a = start(sla_engine, "sla_fast", "A")
    c = start(sla_engine, "sla_fast", "c")  # tiers are read case-insensitively
    untiered = start(sla_engine, "sla_fast")
    now = clock.now()
    assert as_utc(datetime.fromisoformat(a["due_at"])) == now + timedelta(hours=2)
    assert as_utc(datetime.fromisoformat(c["due_at"])) == now + timedelta(hours=4)  # C has none: default
    assert as_utc(datetime.fromisoformat(untiered["due_at"])) == now + timedelta(hours=4)
    created = [
        e for e in sla_engine.queries.history(instance_id=a["instance_id"]) if e["type"] == "task_created"
    ]
    assert created[0]["data"]["due_at"] == (now + timedelta(hours=2)).isoformat()


CALLS_SLA_FAST = """
    <bpmn:startEvent id="start"/>
    <bpmn:callActivity id="call" calledElement="sla_fast"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end"/>"""

NESTED = """
    <bpmn:startEvent id="start"/>
    <bpmn:subProcess id="inner">
      <bpmn:startEvent id="inner_start"/>
      <bpmn:userTask id="handle" name="Handle the case" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="inner_end"/>
      <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="handle"/>
      <bpmn:sequenceFlow id="g2" sourceRef="handle" targetRef="inner_end"/>
    </bpmn:subProcess>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner"/>
    <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="end"/>"""


def test_a_policy_follows_the_process_that_draws_the_task(sla_engine: Engine, clock: ManualClock) -> None:
    # A callback run from a repair case keeps the callback's clock: the policy matches the called
    # process inside a call activity (no policy names the caller here), and the process around an
    # embedded sub-process.
    deploy(sla_engine, "sla_caller", CALLS_SLA_FAST)
    deploy(sla_engine, "sla_nested", NESTED)
    now = clock.now()
    for key in ("sla_caller", "sla_nested"):
        task = start(sla_engine, key, "A")
        assert as_utc(datetime.fromisoformat(task["due_at"])) == now + timedelta(hours=2), key
        assert sla_engine.alarms.deadline(task["id"])["policy"] == "fast", key


def test_business_hours_deadline_across_the_night_and_a_holiday(
    sla_engine: Engine, clock: ManualClock
) -> None:
    # Monday 17:00 in Shanghai. Tier A: 4 working hours = 1 on Monday, 3 on Tuesday morning.
    task = start(sla_engine, "sla_office", "A")
    assert task["due_at"] == datetime(2026, 1, 6, 4, 0, tzinfo=UTC).isoformat()  # Tuesday 12:00 local
    deadline = sla_engine.alarms.deadline(task["id"])
    assert [(s["stage"], s["at"]) for s in deadline["stages"]] == [
        ("reminder", datetime(2026, 1, 6, 3, 0, tzinfo=UTC).isoformat()),  # Tue 11:00 local
        ("warning", datetime(2026, 1, 6, 3, 0, tzinfo=UTC).isoformat()),  # 75 % of 4 h = 3 h
        ("breach", datetime(2026, 1, 6, 4, 0, tzinfo=UTC).isoformat()),
        ("escalation", datetime(2026, 1, 6, 7, 0, tzinfo=UTC).isoformat()),  # 2 h after lunch: 15:00
    ]
    assert deadline["working_seconds_left"] == 4 * 3600
    # Tier C: two working days of 8 hours; Wednesday 7 January is a holiday in this calendar.
    c = start(sla_engine, "sla_office", "C")
    assert c["due_at"] == datetime(2026, 1, 8, 9, 0, tzinfo=UTC).isoformat()  # Thursday 17:00 local


def test_every_stage_is_raised_once_in_order_and_told_to_the_right_people(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    task = start(sla_engine, "sla_fast", "A", business_key="C-7")
    started = clock.now()
    assert wake(scheduler) == []
    clock.set(started + timedelta(minutes=59))
    assert wake(scheduler) == []
    clock.set(started + timedelta(hours=1))  # reminder: 1 h before the 2 h deadline
    assert wake(scheduler) == ["sla"]
    assert stages_raised(sla_engine, task["id"]) == ["reminder"]
    sla_engine.runtime.claim(task["id"], AGENT)
    clock.set(started + timedelta(hours=1, minutes=30))  # warning: 75 % used
    assert wake(scheduler) == ["sla"]
    clock.set(started + timedelta(hours=2))
    assert wake(scheduler) == ["sla"]
    clock.set(started + timedelta(hours=4))
    assert wake(scheduler) == ["sla"]
    clock.set(started + timedelta(days=3))
    assert wake(scheduler) == []
    alarms = list(reversed(sla_engine.alarms.alarms(task_id=task["id"])))
    assert [a["stage"] for a in alarms] == ["reminder", "warning", "breach", "escalation"]
    assert [a["notified"] for a in alarms] == [
        ["role:agent"],  # nobody had claimed it yet
        ["user:alice"],
        ["user:alice", "role:agent"],
        ["role:service_manager"],  # the manager of the agent role
    ]
    assert [a["due_at"] for a in alarms] == [
        (started + timedelta(hours=h)).isoformat() for h in (1, 1.5, 2, 4)
    ]
    assert alarms[3]["escalated_to"] == "service_manager"
    events = [
        e for e in sla_engine.queries.history(instance_id=task["instance_id"]) if e["type"].startswith("sla_")
    ]
    assert [e["type"] for e in events] == ["sla_reminder", "sla_warning", "sla_breach", "sla_escalation"]
    assert all(e["actor"] == "scheduler" and e["task_id"] == task["id"] for e in events)
    notes = sla_engine.alarms.notifications()
    assert [(n["kind"], n["recipient_kind"], n["recipient"]) for n in notes] == [
        ("sla.reminder", "role", "agent"),
        ("sla.warning", "user", "alice"),
        ("sla.breach", "user", "alice"),
        ("sla.breach", "role", "agent"),
        ("sla.escalation", "role", "service_manager"),
    ]
    assert notes[2]["subject"] == "Overdue: 'Handle the case' (C-7) was due 2026-01-05 11:00 UTC"
    assert sla_engine.queries.verify_history()[1] == []


def test_completing_the_task_stops_the_clock(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    task = start(sla_engine, "sla_fast", "A")
    clock.advance(timedelta(hours=1))
    assert wake(scheduler) == ["sla"]  # the reminder
    clock.advance(timedelta(minutes=10))
    sla_engine.runtime.complete_task(task["id"], {}, AGENT)
    clock.advance(timedelta(days=2))
    assert wake(scheduler) == []
    assert stages_raised(sla_engine, task["id"]) == ["reminder"]
    deadline = sla_engine.alarms.deadline(task["id"])
    assert (deadline["state"], deadline["met"]) == ("stopped", True)
    assert deadline["working_seconds_used"] == 70 * 60
    assert sla_engine.due.next_due() is None


def test_completing_the_task_stops_the_clock_after_a_cold_start(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    """Which tasks have clocks is read from the rows when the live workflow is not cached."""
    task = start(sla_engine, "sla_fast", "A")
    sla_engine.store.cache.clear()
    clock.advance(timedelta(minutes=10))
    sla_engine.runtime.complete_task(task["id"], {}, AGENT)
    clock.advance(timedelta(days=2))
    assert wake(scheduler) == []
    assert stages_raised(sla_engine, task["id"]) == []
    deadline = sla_engine.alarms.deadline(task["id"])
    assert (deadline["state"], deadline["met"]) == ("stopped", True)


def test_an_unclaimed_task_reminds_everyone_who_may_take_it(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    offered = """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="handle" name="Handle the case" camunda:candidateUsers="bob,carol"/>
    <bpmn:userTask id="review" name="Review" camunda:candidateGroups="agent,service_manager"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>"""
    deploy(sla_engine, "sla_nested", offered)  # a key the round-the-clock policy matches
    task = start(sla_engine, "sla_nested", "A")
    clock.advance(timedelta(hours=1))
    assert wake(scheduler) == ["sla"]
    [reminder] = sla_engine.alarms.alarms(task_id=task["id"])
    assert reminder["notified"] == ["user:bob", "user:carol"]
    sla_engine.runtime.complete_task(task["id"], {}, Actor.person("bob", []))
    [review] = sla_engine.queries.tasks(instance_id=task["instance_id"])
    clock.advance(timedelta(hours=1))
    assert wake(scheduler) == ["sla"]
    [reminder] = sla_engine.alarms.alarms(task_id=review["id"])
    assert reminder["notified"] == ["role:agent", "role:service_manager"]
    notes = [n for n in sla_engine.alarms.notifications() if n["kind"] == "sla.reminder"]
    assert [(n["recipient_kind"], n["recipient"]) for n in notes] == [
        ("user", "bob"), ("user", "carol"), ("role", "agent"), ("role", "service_manager"),
    ]
    # Each of them finds the alarm in their list: by a role told, or as told to them.
    assert [a["id"] for a in sla_engine.alarms.alarms(role="service_manager")] == [reminder["id"]]
    told_to = sla_engine.alarms.alarms
    assert [a["task_id"] for a in told_to(told=Actor.person("carol", []))] == [task["id"]]
    assert [a["task_id"] for a in told_to(told=Actor.person("sue", ["service_manager"]))] == [review["id"]]
    assert told_to(told=Actor.person("zed", ["finance"])) == []
    assert told_to(told=Actor.person("Carol", [])) == []  # names count case, on SQLite too
    assert sla_engine.alarms.alarms(role="Service_Manager") == []


def test_reassigning_does_not_reset_the_clock(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    task = start(sla_engine, "sla_fast", "A")
    due = task["due_at"]
    clock.advance(timedelta(minutes=50))
    sla_engine.runtime.claim(task["id"], AGENT)
    sla_engine.runtime.assign(task["id"], "bob", MANAGER)
    assert sla_engine.queries.task(task["id"])["due_at"] == due
    clock.advance(timedelta(minutes=10))
    assert wake(scheduler) == ["sla"]
    [reminder] = sla_engine.alarms.alarms(task_id=task["id"])
    assert (reminder["stage"], reminder["notified"]) == ("reminder", ["user:bob"])


def test_pausing_and_resuming_moves_the_deadline_by_the_time_paused(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    task = start(sla_engine, "sla_fast", "A")
    started = clock.now()
    clock.advance(timedelta(minutes=30))
    assert sla_engine.sla.pause(AGENT, task_id=task["id"], note="customer abroad until 14:00") == [task["id"]]
    with pytest.raises(Conflict):
        sla_engine.sla.pause(AGENT, task_id=task["id"])
    paused = sla_engine.alarms.deadline(task["id"])
    assert (paused["state"], paused["working_seconds_used"]) == ("paused", 30 * 60)
    clock.advance(timedelta(hours=3))  # the reminder would have come meanwhile
    assert wake(scheduler) == []
    assert sla_engine.due.next_due() is None
    resumed = sla_engine.sla.resume(AGENT, task_id=task["id"])
    new_deadline = started + timedelta(hours=5)  # 2 h plus the 3 h paused
    assert resumed[task["id"]].deadline == new_deadline
    assert sla_engine.queries.task(task["id"])["due_at"] == new_deadline.isoformat()
    status = sla_engine.alarms.deadline(task["id"])
    assert (status["state"], status["working_seconds_left"], status["working_seconds_paused"]) == (
        "running",
        90 * 60,
        3 * 3600,
    )
    clock.set(new_deadline - timedelta(hours=1, seconds=1))
    assert wake(scheduler) == []
    clock.set(new_deadline - timedelta(hours=1))
    assert wake(scheduler) == ["sla"]
    types = [e["type"] for e in sla_engine.queries.history(instance_id=task["instance_id"])]
    assert types[-3:] == ["sla_paused", "sla_resumed", "sla_reminder"]
    with pytest.raises(Conflict):
        sla_engine.sla.resume(AGENT, task_id=task["id"])


def test_who_may_pause(sla_engine: Engine) -> None:
    task = start(sla_engine, "sla_fast", "A")
    with pytest.raises(Forbidden):
        sla_engine.sla.pause(Actor.person("fin", ["finance"]), task_id=task["id"])
    with pytest.raises(Forbidden):
        sla_engine.sla.pause(AGENT, instance_id=task["instance_id"])  # a whole case: managers only
    with pytest.raises(ValidationError):
        sla_engine.sla.pause(MANAGER)
    assert sla_engine.sla.pause(MANAGER, instance_id=task["instance_id"]) == [task["id"]]


def test_a_task_without_a_policy_has_no_clock(db_url: str, clock: ManualClock) -> None:
    engine = make_engine(db_url, HandlerRegistry(), clock)  # no policy file
    try:
        deploy(engine, "plain", ONE_TASK.format(due=""))
        task = start(engine, "plain")
        assert task["due_at"] is None
        assert engine.alarms.deadline(task["id"])["stages"] == []
        with pytest.raises(BadRequest):
            engine.sla.pause(AGENT, task_id=task["id"])
    finally:
        engine.close()


def test_the_diagrams_due_date_wins_and_gets_the_policys_stages(
    sla_engine: Engine, clock: ManualClock
) -> None:
    task = start(sla_engine, "sla_dated", "A")
    now = clock.now()
    assert task["due_at"] == (now + timedelta(hours=10)).isoformat()
    stages = {s["stage"]: s["at"] for s in sla_engine.alarms.deadline(task["id"])["stages"]}
    assert stages == {
        "reminder": (now + timedelta(hours=9)).isoformat(),
        "warning": (now + timedelta(hours=7, minutes=30)).isoformat(),
        "breach": (now + timedelta(hours=10)).isoformat(),
        "escalation": (now + timedelta(hours=12)).isoformat(),
    }


def test_the_clock_stops_while_the_case_waits_on_the_customer(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    task = start(sla_engine, "sla_wait", "A", business_key="W-1")
    started = clock.now()
    # The case waits for the customer's reply from the start: the task's clock is held.
    assert sla_engine.alarms.deadline(task["id"])["state"] == "paused"
    clock.advance(timedelta(hours=5))
    assert wake(scheduler) == []
    sla_engine.runtime.correlate("reply", actor=OPERATOR, business_key="W-1")
    status = sla_engine.alarms.deadline(task["id"])
    assert status["state"] == "running"
    assert status["deadline_at"] == (started + timedelta(hours=7)).isoformat()
    assert status["pauses"][0]["reason"] == "customer"
    assert sla_engine.queries.task(task["id"])["due_at"] == (started + timedelta(hours=7)).isoformat()
    clock.set(started + timedelta(hours=6))
    assert wake(scheduler) == ["sla"]
    assert stages_raised(sla_engine, task["id"]) == ["reminder"]
    types = [e["type"] for e in sla_engine.queries.history(instance_id=task["instance_id"])]
    assert "sla_paused" in types and "sla_resumed" in types


def test_alarms_are_listed_by_stage_and_role_and_acknowledged_once(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    task = start(sla_engine, "sla_fast", "A")
    clock.advance(timedelta(hours=4))
    assert wake(scheduler) == ["sla"]  # all four stages at once, in order
    book = sla_engine.alarms
    assert [a["stage"] for a in book.alarms(open_only=True)] == [
        "escalation",
        "breach",
        "warning",
        "reminder",
    ]
    assert [a["stage"] for a in book.alarms(stage="breach")] == ["breach"]
    assert [a["stage"] for a in book.alarms(role="service_manager")] == ["escalation"]  # escalated to them
    assert {a["stage"] for a in book.alarms(role="agent")} == {"reminder", "warning", "breach", "escalation"}
    assert book.alarms(role="finance") == []
    with pytest.raises(ValidationError):
        book.alarms(stage="panic")
    escalation = book.alarms(stage="escalation")[0]
    with pytest.raises(Forbidden):
        book.acknowledge(escalation["id"], AGENT)  # agents were not told of the escalation
    done = book.acknowledge(escalation["id"], MANAGER, note="calling the customer myself")
    assert (done["acknowledged_by"], done["open"]) == ("mia", False)
    with pytest.raises(Conflict):
        book.acknowledge(escalation["id"], MANAGER)
    assert [a["stage"] for a in book.alarms(open_only=True)] == ["breach", "warning", "reminder"]
    assert [a["stage"] for a in book.alarms(acknowledged=True)] == ["escalation"]
    reminder = book.alarms(stage="reminder")[0]
    book.acknowledge(reminder["id"], OTHER_AGENT)  # told through the agent role
    acknowledged = [
        e
        for e in sla_engine.queries.history(instance_id=task["instance_id"])
        if e["type"] == "alarm_acknowledged"
    ]
    assert [(e["actor"], e["data"]["stage"]) for e in acknowledged] == [
        ("mia", "escalation"),
        ("bob", "reminder"),
    ]


def test_missed_alarms_and_timers_fire_exactly_once_after_a_restart(
    sla_engine: Engine, clock: ManualClock
) -> None:
    deploy(
        sla_engine,
        "sla_timer",
        """
      <bpmn:startEvent id="start"/>
      <bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition>
        <bpmn:timeDuration>PT30M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
      <bpmn:endEvent id="end"/>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pause"/>
      <bpmn:sequenceFlow id="f2" sourceRef="pause" targetRef="end"/>""",
    )
    tasks = [start(sla_engine, "sla_fast", tier) for tier in ("A", "B", None)]
    timer_case = sla_engine.runtime.start(actor=AGENT, process_key="sla_timer")
    first = SchedulerService(sla_engine, owner="before-the-crash")
    # It claims the first due reminder, then dies before acting on it: the lease is left behind.
    clock.advance(timedelta(hours=1))
    with sla_engine.db.transaction() as conn:
        [stale] = claim(conn, SLA_STAGES, first.owner, clock.now(), timedelta(seconds=60), 10)
    clock.advance(timedelta(days=1))  # everything has fallen due while no scheduler ran
    restarted = SchedulerService(sla_engine, owner="after-the-restart")
    fired = restarted.wake_once().fired
    assert sorted(f.kind for f in fired) == ["sla", "sla", "sla", "timer"]
    assert wake(restarted) == []
    assert first.engine.alarm_raiser.raise_due([stale], first.owner) == []  # its lease is gone
    for task in tasks:
        assert stages_raised(sla_engine, task["id"]) == ["reminder", "warning", "breach", "escalation"]
    assert sla_engine.queries.instance(timer_case)["status"] == "completed"
    with sla_engine.db.transaction(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(Alarm)).scalar_one() == 12
        duplicates = conn.execute(
            select(Alarm.task_id, Alarm.stage).group_by(Alarm.task_id, Alarm.stage).having(func.count() > 1)
        ).all()
    assert duplicates == []


def test_parking_a_failed_item_leaves_a_lease_another_scheduler_took(
    sla_engine: Engine, clock: ManualClock
) -> None:
    task = start(sla_engine, "sla_fast", "A")
    clock.advance(timedelta(hours=1))
    lease = timedelta(seconds=60)
    with sla_engine.db.transaction() as conn:
        [mine] = claim(conn, SLA_STAGES, "slow-scheduler", clock.now(), lease, 10)
    clock.advance(timedelta(minutes=2))  # the slow one's lease runs out while its command fails
    with sla_engine.db.transaction() as conn:
        [theirs] = claim(conn, SLA_STAGES, "other-scheduler", clock.now(), lease, 10)
        assert theirs.key == mine.key == task["id"]
    with sla_engine.db.transaction() as conn:
        parked_until = clock.now() + timedelta(minutes=5)
        release(conn, SLA_STAGES, [mine.key], until=parked_until, held_by="slow-scheduler")
    with sla_engine.db.transaction() as conn:
        [owner] = conn.execute(select(SlaClockRow.lease_owner).where(SlaClockRow.task_id == task["id"])).one()
    assert owner == "other-scheduler"
    assert sla_engine.alarm_raiser.raise_due([theirs], "other-scheduler") != []


def test_the_background_scheduler_fires_on_time_without_being_asked(db_url: str, policy_file: Path) -> None:
    """Real time: a timer two seconds ahead fires about then, woken by the hint, not by polling."""
    config = EngineConfig(database_url=db_url, forms_dir=None, sla_policies=policy_file)
    engine = Engine(config, handlers=HandlerRegistry(), clock=SystemClock())
    fired: list[Any] = []
    service = start_background_scheduler(engine, poll_seconds=60, on_fired=fired.append)
    try:
        deploy(
            engine,
            "quick",
            """
          <bpmn:startEvent id="start"/>
          <bpmn:intermediateCatchEvent id="soon"><bpmn:timerEventDefinition>
            <bpmn:timeDuration>PT2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
          <bpmn:userTask id="after" name="After" camunda:candidateGroups="agent"/>
          <bpmn:endEvent id="end"/>
          <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="soon"/>
          <bpmn:sequenceFlow id="f2" sourceRef="soon" targetRef="after"/>
          <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>""",
        )
        time.sleep(0.3)  # the first wake-up (at start) has found nothing and sleeps for the poll
        instance_id = engine.runtime.start(actor=AGENT, process_key="quick")
        deadline = time.monotonic() + 10
        while not fired and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [f.kind for f in fired] == ["timer"]
        lateness = (fired[0].committed_at - fired[0].due_at).total_seconds()
        assert lateness < 1.5, lateness  # far below the 60 s poll: the hint woke it
        assert [t["element_id"] for t in engine.queries.tasks(instance_id=instance_id)] == ["after"]
    finally:
        service.shutdown()
        engine.close()
    assert not service.running


def test_notification_hooks_see_each_notification_in_the_same_transaction(
    sla_engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    seen: list[tuple[str, str]] = []

    def copy(conn: Any, note: dict[str, Any]) -> None:
        # A CRM outbox adapter would insert into its own table through ``conn`` here.
        assert conn.execute(select(func.count()).select_from(Notification)).scalar_one() >= 1
        seen.append((note["kind"], note["recipient"]))

    sla_engine.alarm_raiser.hooks.append(copy)
    start(sla_engine, "sla_fast", "A")
    clock.advance(timedelta(hours=1))
    wake(scheduler)
    assert seen == [("sla.reminder", "agent")]
    [note] = sla_engine.alarms.notifications()
    assert json.loads(json.dumps(note["body"]))["stage"] == "reminder"
    assert sla_engine.alarms.mark_delivered([note["id"]]) == 1
    assert sla_engine.alarms.notifications() == []
