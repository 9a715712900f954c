"""The alarms page: reminders, warnings, breaches and escalations for my roles; acknowledging one;
the task page's deadline and SLA stages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.clock import ManualClock
from engine.handler_registry import HandlerRegistry
from engine.scheduler.service import SchedulerService
from tests.integration.pages_support import Site, text
from tests.integration.rest_support import SERVICE_BPMN, make_rest

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
def sla_site(db_url: str, handlers: HandlerRegistry, clock: ManualClock, tmp_path: Path) -> Iterator[Site]:
    policy = tmp_path / "sla.toml"
    policy.write_text(POLICIES, encoding="utf-8")
    rest = make_rest(db_url, handlers, clock, sla_policies=policy)
    assert rest.deploy(SERVICE_BPMN).status_code == 201
    yield Site(rest)
    rest.engine.close()


def _overdue_case(site: Site) -> tuple[dict[str, Any], dict[str, Any]]:
    case = site.start("ALARM-1")
    task = site.open_task(case["id"], "record")
    site.clock.advance(timedelta(hours=5, minutes=30))
    SchedulerService(site.engine, owner="tests").wake_once()
    return case, task


def test_the_task_page_shows_the_deadline_and_its_stages(sla_site: Site) -> None:
    site = sla_site
    case = site.start("DEADLINE-1")
    task = site.open_task(case["id"], "record")
    page = text(site.browser("alice").get(f"/tasks/{task['id']}"))
    deadline = page.split('id="deadline-title"', 1)[1].split("</section>", 1)[0]
    assert "calls" in deadline and "4 h left" in deadline
    assert "under a minute used of 4 h" in deadline
    for stage in ("reminder", "warning", "breach", "escalation"):
        assert stage in deadline
    assert "raised" not in deadline
    assert "Next stage" in deadline


def test_alarms_for_my_roles_are_listed_and_acknowledged_once(sla_site: Site) -> None:
    site = sla_site
    _case, task = _overdue_case(site)
    alice, sam, audrey = site.browser("alice"), site.browser("sam"), site.browser("audrey")

    mine = text(alice.get("/alarms"))
    assert all(stage in mine for stage in ("reminder", "warning", "breach"))
    assert "/acknowledge" in mine
    assert "Record call" in mine and "ALARM-1" in mine
    managers = text(sam.get("/alarms"))  # every role, escalations to the manager included
    assert "escalation" in managers and "to service manager" in managers
    assert "escalation" in text(sam.get("/alarms?role=service_manager"))
    assert "No alarms open" in text(sam.get("/alarms?role=service_manager&stage=reminder"))
    watching = text(audrey.get("/alarms"))
    assert "escalation" in watching and "/acknowledge" not in watching
    assert alice.get("/alarms?role=director").status_code == 422

    [escalation] = site.engine.alarms.alarms(stage="escalation")
    refused = alice.post(f"/alarms/{escalation['id']}/acknowledge")
    assert refused.status_code == 403 and "was not told of alarm" in text(refused)
    assert audrey.post(f"/alarms/{escalation['id']}/acknowledge").status_code == 403
    done = sam.post(f"/alarms/{escalation['id']}/acknowledge", {"note": "calling the customer"})
    assert done.status_code == 303
    assert site.engine.alarms.alarm(escalation["id"])["acknowledged_by"] == "sam"
    again = sam.post(f"/alarms/{escalation['id']}/acknowledge")
    assert again.status_code == 409 and "was acknowledged by sam" in text(again)
    assert "calling the customer" in text(sam.get(f"/cases/{escalation['instance_id']}"))
    acknowledged = text(sam.get("/alarms?show=acknowledged"))
    assert "escalation" in acknowledged and "sam," in acknowledged
    assert sam.post("/alarms/not-a-number/acknowledge").status_code == 404

    page = text(alice.get(f"/tasks/{task['id']}"))
    deadline = page.split('id="deadline-title"', 1)[1].split("</section>", 1)[0]
    assert "overdue by 1 h 30 min" in deadline and "raised" in deadline
