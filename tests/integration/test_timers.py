"""BPMN timers on the engine's clock, fired by the scheduler: intermediate (duration and date),
boundary (interrupting and not, with a cycle), and timer start events (cycle, date), on SQLite
and PostgreSQL. Time only moves when the test moves the ManualClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.actors import Actor
from engine.bpmn.validation import SourceFile
from engine.clock import ManualClock, as_utc
from engine.engine import Engine
from engine.errors import DefinitionError
from engine.models import Subscription
from engine.scheduler.models import TimerStart
from engine.scheduler.service import SchedulerService

OPERATOR = Actor.operator("operator")
AGENT = Actor.person("alice", ["agent"])
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def diagram(process_id: str, body: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="{XSI}"
    id="Definitions_{process_id}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{process_id}" name="{process_id}" isExecutable="true">
{body}
  </bpmn:process>
</bpmn:definitions>""".encode()


def timer(kind: str, text: str) -> str:
    return (
        f'<bpmn:timerEventDefinition><bpmn:{kind} xsi:type="bpmn:tFormalExpression">{text}</bpmn:{kind}>'
        "</bpmn:timerEventDefinition>"
    )


def flows(*pairs: tuple[str, str]) -> str:
    return "\n".join(f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>' for a, b in pairs)


def deploy(engine: Engine, process_id: str, body: str) -> None:
    engine.deployer.deploy([SourceFile(f"{process_id}.bpmn", diagram(process_id, body))], actor="designer")


def open_tasks(engine: Engine, instance_id: str | None = None, process_key: str | None = None) -> list[str]:
    tasks = engine.queries.tasks(instance_id=instance_id, process_key=process_key)
    return sorted(t["element_id"] for t in tasks)


def timers(engine: Engine) -> list[Any]:
    with engine.db.transaction(write=False) as conn:
        return list(conn.execute(select(Subscription).where(Subscription.kind == "timer")))


def fired_kinds(service: SchedulerService) -> list[str]:
    return [f.kind for f in service.wake_once().fired]


@pytest.fixture
def scheduler(engine: Engine) -> SchedulerService:
    # Driven by hand: each wake_once() is one wake-up at the ManualClock's time.
    return SchedulerService(engine, owner="test-scheduler")


def test_intermediate_duration_timer_fires_once_at_its_due_time(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    deploy(
        engine,
        "waiting",
        f"""
      <bpmn:startEvent id="start"/>
      <bpmn:intermediateCatchEvent id="wait" name="Wait two hours">{timer("timeDuration", "PT2H")}
      </bpmn:intermediateCatchEvent>
      <bpmn:userTask id="after" name="After" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end"/>
      {flows(("start", "wait"), ("wait", "after"), ("after", "end"))}""",
    )
    started = clock.now()
    instance_id = engine.runtime.start(actor=AGENT, process_key="waiting")
    [row] = timers(engine)
    assert (row.element_id, as_utc(row.due_at)) == ("wait", started + timedelta(hours=2))
    assert engine.due.next_due() == started + timedelta(hours=2)

    clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert fired_kinds(scheduler) == []
    assert open_tasks(engine, instance_id) == []

    clock.advance(timedelta(seconds=1))
    assert fired_kinds(scheduler) == ["timer"]
    assert open_tasks(engine, instance_id) == ["after"]
    assert timers(engine) == []
    history = engine.queries.history(instance_id=instance_id)
    [event] = [e for e in history if e["type"] == "timer_fired"]
    assert (event["element_id"], event["actor"]) == ("wait", "scheduler")
    assert event["data"]["due_at"] == (started + timedelta(hours=2)).isoformat()

    assert fired_kinds(scheduler) == []  # nothing fires twice


def test_intermediate_date_timer_from_a_variable(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    deploy(
        engine,
        "until_date",
        f"""
      <bpmn:startEvent id="start"/>
      <bpmn:intermediateCatchEvent id="until" name="Until the start date">{timer("timeDate", "${starts_at}")}
      </bpmn:intermediateCatchEvent>
      <bpmn:userTask id="after" name="After" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end"/>
      {flows(("start", "until"), ("until", "after"), ("after", "end"))}""",
    )
    # Midnight in Shanghai is 16:00 UTC the day before.
    instance_id = engine.runtime.start(
        actor=AGENT, process_key="until_date", variables={"starts_at": "2026-01-07T00:00:00+08:00"}
    )
    [row] = timers(engine)
    assert as_utc(row.due_at) == datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
    clock.set(datetime(2026, 1, 6, 15, 59, 59, tzinfo=UTC))
    assert fired_kinds(scheduler) == []
    clock.set(datetime(2026, 1, 6, 16, 0, tzinfo=UTC))
    assert fired_kinds(scheduler) == ["timer"]
    assert open_tasks(engine, instance_id) == ["after"]


def test_a_date_already_passed_fires_without_waiting(engine: Engine, clock: ManualClock) -> None:
    deploy(
        engine,
        "passed",
        f"""
      <bpmn:startEvent id="start"/>
      <bpmn:intermediateCatchEvent id="until">{timer("timeDate", "2020-01-01T00:00:00Z")}
      </bpmn:intermediateCatchEvent>
      <bpmn:userTask id="after" name="After" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end"/>
      {flows(("start", "until"), ("until", "after"), ("after", "end"))}""",
    )
    instance_id = engine.runtime.start(actor=AGENT, process_key="passed")
    assert open_tasks(engine, instance_id) == ["after"]
    assert timers(engine) == []


BOUNDARY = """
      <bpmn:startEvent id="start"/>
      <bpmn:userTask id="work" name="Work" camunda:candidateGroups="agent"/>
      <bpmn:boundaryEvent id="late" name="Too late" attachedToRef="work" cancelActivity="{cancel}">{timer}
      </bpmn:boundaryEvent>
      <bpmn:userTask id="{after_timer}" name="After the timer" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end"/>
      <bpmn:endEvent id="end_timer"/>
      {flows}"""


def test_interrupting_boundary_timer_cancels_the_task(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    deploy(
        engine,
        "interrupt",
        BOUNDARY.format(
            cancel="true",
            timer=timer("timeDuration", "PT4H"),
            after_timer="escalated",
            flows=flows(
                ("start", "work"), ("work", "end"), ("late", "escalated"), ("escalated", "end_timer")
            ),
        ),
    )
    instance_id = engine.runtime.start(actor=AGENT, process_key="interrupt")
    [work] = engine.queries.tasks(instance_id=instance_id)
    clock.advance(timedelta(hours=4))
    assert fired_kinds(scheduler) == ["timer"]
    assert open_tasks(engine, instance_id) == ["escalated"]
    assert engine.queries.task(work["id"])["state"] == "cancelled"
    assert fired_kinds(scheduler) == []


def test_a_boundary_timer_does_not_fire_once_its_task_is_done(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    deploy(
        engine,
        "in_time",
        BOUNDARY.format(
            cancel="true",
            timer=timer("timeDuration", "PT4H"),
            after_timer="escalated",
            flows=flows(
                ("start", "work"), ("work", "end"), ("late", "escalated"), ("escalated", "end_timer")
            ),
        ),
    )
    instance_id = engine.runtime.start(actor=AGENT, process_key="in_time")
    [work] = engine.queries.tasks(instance_id=instance_id)
    clock.advance(timedelta(hours=1))
    engine.runtime.complete_task(work["id"], {}, AGENT)
    assert timers(engine) == []
    clock.advance(timedelta(hours=5))
    assert fired_kinds(scheduler) == []
    assert engine.queries.instance(instance_id)["status"] == "completed"


def test_non_interrupting_cycle_boundary_fires_each_repetition(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    deploy(
        engine,
        "nag",
        BOUNDARY.format(
            cancel="false",
            timer=timer("timeCycle", "R3/PT1H"),
            after_timer="remind",
            flows=flows(("start", "work"), ("work", "end"), ("late", "remind"), ("remind", "end_timer")),
        ),
    )
    instance_id = engine.runtime.start(actor=AGENT, process_key="nag")
    started = clock.now()
    for hour in (1, 2, 3):
        clock.set(started + timedelta(hours=hour))
        assert fired_kinds(scheduler) == ["timer"]
        assert open_tasks(engine, instance_id) == ["remind"] * hour + ["work"]
    clock.set(started + timedelta(hours=10))
    assert fired_kinds(scheduler) == []  # three repetitions, no more
    assert [row.due_at for row in timers(engine)] == [None]  # still attached, never due again


def test_missed_cycle_repetitions_are_coalesced(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    deploy(
        engine,
        "nag_forever",
        BOUNDARY.format(
            cancel="false",
            timer=timer("timeCycle", "R/PT1H"),
            after_timer="remind",
            flows=flows(("start", "work"), ("work", "end"), ("late", "remind"), ("remind", "end_timer")),
        ),
    )
    instance_id = engine.runtime.start(actor=AGENT, process_key="nag_forever")
    started = clock.now()
    clock.set(started + timedelta(hours=5, minutes=30))  # the scheduler was down for five periods
    assert fired_kinds(scheduler) == ["timer"]
    assert open_tasks(engine, instance_id) == ["remind", "work"]
    [row] = timers(engine)
    assert as_utc(row.due_at) == started + timedelta(hours=6)  # the next one keeps the cycle's rhythm


def test_timer_start_event_cycle_starts_an_instance_per_repetition(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    deployed_at = clock.now()
    deploy(
        engine,
        "hourly",
        f"""
      <bpmn:startEvent id="tick" name="Every hour">{timer("timeCycle", "R2/PT1H")}</bpmn:startEvent>
      <bpmn:userTask id="check" name="Check" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end"/>
      {flows(("tick", "check"), ("check", "end"))}""",
    )
    assert engine.due.next_due() == deployed_at + timedelta(hours=1)
    clock.advance(timedelta(minutes=59))
    assert fired_kinds(scheduler) == []
    clock.advance(timedelta(minutes=1))
    assert fired_kinds(scheduler) == ["timer_start"]
    assert open_tasks(engine, process_key="hourly") == ["check"]
    clock.advance(timedelta(hours=1))
    assert fired_kinds(scheduler) == ["timer_start"]
    assert open_tasks(engine, process_key="hourly") == ["check", "check"]
    clock.advance(timedelta(hours=5))
    assert fired_kinds(scheduler) == []
    [instance] = engine.queries.instances(process_key="hourly", limit=1)
    assert [e["type"] for e in engine.queries.history(instance_id=instance["id"])][:2] == [
        "instance_started",
        "timer_fired",
    ]
    assert instance["started_by"] == "scheduler"


def test_a_new_version_replaces_the_timer_start_schedule(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    body = """
      <bpmn:startEvent id="tick">{timer}</bpmn:startEvent>
      <bpmn:userTask id="check" name="Check" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end"/>
      {flows}"""
    pairs = flows(("tick", "check"), ("check", "end"))
    deploy(engine, "daily", body.format(timer=timer("timeCycle", "R/P1D"), flows=pairs))
    deploy(engine, "daily", body.format(timer=timer("timeDate", "2026-01-05T12:00:00Z"), flows=pairs))
    with engine.db.transaction(write=False) as conn:
        [row] = conn.execute(select(TimerStart)).all()
    assert (row.kind, as_utc(row.due_at)) == ("timeDate", datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    [latest] = engine.queries.definitions("daily", latest_only=True)
    assert row.definition_id == latest["id"]
    clock.set(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    assert fired_kinds(scheduler) == ["timer_start"]
    clock.advance(timedelta(days=3))
    assert fired_kinds(scheduler) == []  # a date fires once
    [instance] = engine.queries.instances(process_key="daily")
    assert instance["definition_id"] == latest["id"]


def test_a_timer_start_event_must_be_written_out(engine: Engine) -> None:
    with pytest.raises(DefinitionError) as refused:
        deploy(
            engine,
            "exprstart",
            f"""
          <bpmn:startEvent id="tick">{timer("timeCycle", "${every}")}</bpmn:startEvent>
          <bpmn:endEvent id="end"/>
          {flows(("tick", "end"))}""",
        )
    [problem] = refused.value.problems
    assert problem.element_id == "tick" and "no case data" in problem.message
    assert engine.queries.definitions("exprstart") == []


def test_a_suspended_case_keeps_its_timer_until_resumed(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    deploy(
        engine,
        "pausable",
        f"""
      <bpmn:startEvent id="start"/>
      <bpmn:intermediateCatchEvent id="wait">{timer("timeDuration", "PT1H")}</bpmn:intermediateCatchEvent>
      <bpmn:userTask id="after" name="After" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end"/>
      {flows(("start", "wait"), ("wait", "after"), ("after", "end"))}""",
    )
    instance_id = engine.runtime.start(actor=AGENT, process_key="pausable")
    engine.runtime.suspend(instance_id, OPERATOR)
    clock.advance(timedelta(hours=2))
    assert fired_kinds(scheduler) == []
    assert open_tasks(engine, instance_id) == []
    engine.runtime.resume(instance_id, OPERATOR)
    clock.advance(timedelta(minutes=1))  # parked timers are looked at again a minute later
    assert fired_kinds(scheduler) == ["timer"]
    assert open_tasks(engine, instance_id) == ["after"]


def test_a_timer_start_beside_a_none_start_takes_only_its_own_path(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    # Camunda Modeler's "start by hand, or every hour": each start event starts only its own path.
    deploy(
        engine,
        "both_starts",
        f"""
      <bpmn:startEvent id="by_hand_start"/>
      <bpmn:startEvent id="tick">{timer("timeCycle", "R/PT1H")}</bpmn:startEvent>
      <bpmn:userTask id="by_hand" camunda:candidateGroups="agent"/>
      <bpmn:userTask id="by_timer" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end_hand"/>
      <bpmn:endEvent id="end_timer"/>
      {flows(("by_hand_start", "by_hand"), ("by_hand", "end_hand"))}
      {flows(("tick", "by_timer"), ("by_timer", "end_timer"))}""",
    )
    by_hand = engine.runtime.start(actor=AGENT, process_key="both_starts")
    assert open_tasks(engine, by_hand) == ["by_hand"]
    clock.advance(timedelta(hours=1))
    assert fired_kinds(scheduler) == ["timer_start"]
    [by_timer] = [i["id"] for i in engine.queries.instances(process_key="both_starts") if i["id"] != by_hand]
    assert open_tasks(engine, by_timer) == ["by_timer"]
    assert open_tasks(engine, by_hand) == ["by_hand"]
    history = [(e["type"], e["element_id"]) for e in engine.queries.history(instance_id=by_timer)]
    assert ("timer_fired", "tick") in history


def test_a_date_timer_start_records_its_firing(
    engine: Engine, clock: ManualClock, scheduler: SchedulerService
) -> None:
    at = clock.now() + timedelta(hours=1)
    deploy(
        engine,
        "on_a_date",
        f"""
      <bpmn:startEvent id="tick">{timer("timeDate", at.isoformat())}</bpmn:startEvent>
      <bpmn:userTask id="work" camunda:candidateGroups="agent"/>
      <bpmn:endEvent id="end"/>
      {flows(("tick", "work"), ("work", "end"))}""",
    )
    clock.advance(timedelta(hours=1, seconds=1))
    assert fired_kinds(scheduler) == ["timer_start"]
    [instance] = engine.queries.instances(process_key="on_a_date")
    assert open_tasks(engine, instance["id"]) == ["work"]
    types = [e["type"] for e in engine.queries.history(instance_id=instance["id"])]
    assert types[:3] == ["instance_started", "timer_fired", "task_created"]
