"""Two real scheduler processes (``flask --app api scheduler``) against one PostgreSQL database,
with many deadlines, BPMN timers and timer starts falling due together: each fires exactly once,
and neither process logs a failure (a second attempt at the same work would)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.actors import Actor
from engine.bpmn.validation import SourceFile
from engine.clock import SystemClock
from engine.engine import Engine, EngineConfig
from engine.handler_registry import HandlerRegistry
from engine.models import HistoryEvent, Instance
from engine.scheduler.models import Alarm, Notification
from tests.conftest import ROOT, _pg_url, drop_pg_database, fresh_pg_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

AGENT = Actor.person("alice", ["agent"])
CASES = 120
TIMER_CASES = 40
STARTS = 4

POLICIES = """
[roles]
agent = "service_manager"

[policies.seconds]
calendar = "calendar"
durations = { default = "PT6S" }
reminder_before = "PT2S"
warning_at = 0.75
escalate_after = "PT1S"
match = [{ process = "race" }]
"""

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_{key}"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{key}" isExecutable="true">
    {body}
  </bpmn:process>
</bpmn:definitions>"""

RACE = """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="handle" name="Handle" camunda:candidateGroups="agent"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>"""

SLEEPER = """
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="nap"><bpmn:timerEventDefinition>
      <bpmn:timeDuration>PT6S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="nap"/>
    <bpmn:sequenceFlow id="f2" sourceRef="nap" targetRef="end"/>"""

TICKER = """
    <bpmn:startEvent id="tick"><bpmn:timerEventDefinition>
      <bpmn:timeCycle>R{starts}/PT2S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="tick" targetRef="end"/>"""


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name = fresh_pg_database(pg_template)
    try:
        yield _pg_url(name)
    finally:
        drop_pg_database(name)


def start_scheduler(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "CRM_SCHEDULER_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        return subprocess.Popen(
            # Small batches, so both processes keep claiming side by side.
            [
                str(ROOT / ".venv" / "bin" / "flask"),
                "--app",
                "api",
                "scheduler",
                "--poll",
                "2",
                "--batch",
                "10",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_two_scheduler_processes_fire_each_alarm_and_timer_once(pg_url: str, tmp_path: Path) -> None:
    policies = tmp_path / "sla.toml"
    policies.write_text(POLICIES, encoding="utf-8")
    engine = Engine(
        EngineConfig(database_url=pg_url, forms_dir=None, sla_policies=policies),
        handlers=HandlerRegistry(),
        clock=SystemClock(),
    )
    logs = [tmp_path / "scheduler-1.log", tmp_path / "scheduler-2.log"]
    schedulers = [start_scheduler(pg_url, log) for log in logs]
    try:
        assert wait_for(lambda: all("Scheduler running" in log.read_text() for log in logs), 30), [
            log.read_text() for log in logs
        ]
        for key, body in (("race", RACE), ("sleeper", SLEEPER), ("ticker", TICKER.format(starts=STARTS))):
            xml = DIAGRAM.format(key=key, body=body).encode()
            engine.deployer.deploy([SourceFile(f"{key}.bpmn", xml)], actor="designer")
        for n in range(CASES):
            engine.runtime.start(actor=AGENT, process_key="race", business_key=f"R-{n}")
        sleepers = [engine.runtime.start(actor=AGENT, process_key="sleeper") for _ in range(TIMER_CASES)]

        def count(query: object) -> int:
            with engine.db.transaction(write=False) as conn:
                return int(conn.execute(query).scalar_one())  # type: ignore[call-overload]

        alarms = select(func.count()).select_from(Alarm)
        woken = (
            select(func.count())
            .select_from(Instance)
            .where(Instance.process_key == "sleeper", Instance.status == "completed")
        )
        ticks = select(func.count()).select_from(Instance).where(Instance.process_key == "ticker")
        assert wait_for(
            lambda: count(alarms) == 4 * CASES and count(woken) == TIMER_CASES and count(ticks) == STARTS, 45
        ), (count(alarms), count(woken), count(ticks))
        time.sleep(3)  # a late duplicate would show up now
    finally:
        for process in schedulers:
            process.send_signal(signal.SIGTERM)
        for process in schedulers:
            process.wait(timeout=30)

    output = [log.read_text() for log in logs]
    assert [p.returncode for p in schedulers] == [0, 0], output
    assert all("Traceback" not in text and " ERROR " not in text for text in output), output
    # Both took part: each logged wake-ups that fired something.
    assert all(" INFO woke: " in text for text in output), output
    with engine.db.transaction(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(Alarm)).scalar_one() == 4 * CASES
        assert (
            conn.execute(
                select(func.count()).select_from(HistoryEvent).where(HistoryEvent.event_type.like("sla_%"))
            ).scalar_one()
            == 4 * CASES
        )
        # reminder, warning (role), breach (role), escalation (manager): nobody claimed a task.
        assert conn.execute(select(func.count()).select_from(Notification)).scalar_one() == 4 * CASES
        fired = conn.execute(
            select(HistoryEvent.instance_id, func.count())
            .where(HistoryEvent.event_type == "timer_fired", HistoryEvent.instance_id.in_(sleepers))
            .group_by(HistoryEvent.instance_id)
        ).all()
        assert sorted(n for _, n in fired) == [1] * TIMER_CASES
        assert (
            conn.execute(
                select(func.count()).select_from(Instance).where(Instance.process_key == "ticker")
            ).scalar_one()
            == STARTS
        )
    assert engine.queries.verify_history()[1] == []
    engine.close()
