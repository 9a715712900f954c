"""Deadline alarms over HTTP: raised by the scheduler, listed, acknowledged once; task deadlines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.handler_registry import HandlerRegistry
from engine.scheduler.service import SchedulerService
from tests.integration.rest_support import SERVICE_BPMN, Rest, make_rest

POLICIES = """
[defaults]
calendar = "calendar"
reminder_before = "PT1H"
warning_at = 0.75
escalate_after = "PT1H"

[roles]
agent = "service_manager"

[policies.calls]
calendar = "calendar"
durations = { default = "PT4H" }
match = [{ process = "service_call" }]
"""


@pytest.fixture
def sla_rest(db_url: str, handlers: HandlerRegistry, clock: ManualClock, tmp_path: Path) -> Iterator[Rest]:
    policy = tmp_path / "sla.toml"
    policy.write_text(POLICIES, encoding="utf-8")
    rest = make_rest(db_url, handlers, clock, sla_policies=policy)
    assert rest.deploy(SERVICE_BPMN).status_code == 201
    yield rest
    rest.engine.close()


def test_alarms_are_listed_acknowledged_once_and_in_the_history(sla_rest: Rest) -> None:
    rest = sla_rest
    case = rest.start("SC-1")
    task_id = case["tasks"][0]["id"]
    before = rest.get(f"/tasks/{task_id}/deadline").json
    assert before["deadline_at"] == (rest.clock.now() + timedelta(hours=4)).isoformat()
    assert [s["stage"] for s in before["stages"]] == ["reminder", "warning", "breach", "escalation"]
    assert all(s["alarm_id"] is None for s in before["stages"])

    rest.clock.advance(timedelta(hours=5, minutes=30))
    fired = SchedulerService(rest.engine, owner="tests").wake_once().fired
    assert [f.kind for f in fired] == ["sla"]

    listed = rest.get("/alarms?open=true").json
    assert [a["stage"] for a in listed["items"]] == ["escalation", "breach", "warning", "reminder"]
    assert listed["total"] == 4
    assert [a["stage"] for a in rest.get("/alarms?sort=stage").json["items"]] == [
        "breach",
        "escalation",
        "reminder",
        "warning",
    ]
    assert rest.get("/alarms?role=service_manager").json["items"][0]["stage"] == "escalation"
    # An agent is told the reminder, warning and breach; the manager the escalation.
    told_alice = rest.get("/alarms?mine=true", "alice").json["items"]
    assert [a["stage"] for a in told_alice] == ["breach", "warning", "reminder"]
    assert [a["stage"] for a in rest.get("/alarms?mine=true", "sam").json["items"]] == ["escalation"]
    assert rest.get("/alarms?stage=breach").json["items"][0]["task_id"] == task_id
    assert rest.get(f"/alarms?instance_id={case['id']}&limit=1").json["total"] == 4
    assert rest.get("/alarms?stage=panic").status_code == 400

    escalation = rest.get("/alarms?stage=escalation").json["items"][0]
    assert rest.get(f"/alarms/{escalation['id']}").json == escalation
    assert rest.post(f"/alarms/{escalation['id']}/acknowledge", "alice").status_code == 403
    assert rest.post(f"/alarms/{escalation['id']}/acknowledge", "audrey").status_code == 403
    done = rest.post(f"/alarms/{escalation['id']}/acknowledge", "sam", json={"note": "on it"})
    assert done.status_code == 200
    assert (done.json["acknowledged_by"], done.json["open"]) == ("sam", False)
    assert rest.post(f"/alarms/{escalation['id']}/acknowledge", "sam").status_code == 409
    reminder = rest.get("/alarms?stage=reminder").json["items"][0]
    assert rest.post(f"/alarms/{reminder['id']}/acknowledge", "alice").status_code == 200
    assert rest.get("/alarms?open=false").json["total"] == 2

    for missing in ("999999", "abc", "99999999999999999999"):
        assert rest.get(f"/alarms/{missing}").status_code == 404
        assert rest.post(f"/alarms/{missing}/acknowledge", "sam").status_code == 404
    assert rest.get("/tasks/nope/deadline").status_code == 404

    after = rest.get(f"/tasks/{task_id}/deadline").json
    assert after["working_seconds_overdue"] == 90 * 60
    assert {s["stage"] for s in after["stages"] if s["alarm_id"] is not None} == {
        "reminder",
        "warning",
        "breach",
        "escalation",
    }
    events = rest.get(f"/instances/{case['id']}/history").json["items"]
    acknowledged = [(e["actor"], e["data"]["stage"]) for e in events if e["type"] == "alarm_acknowledged"]
    assert acknowledged == [("sam", "escalation"), ("alice", "reminder")]
