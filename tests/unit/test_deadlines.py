"""Deadline plans from SLA policies (business hours, tiers, time zones, holidays, the diagram's own
due date), who is told at each stage, how pauses merge, and when timers fire, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.bpmn.timers import first_firing, next_cycle_firing, timer_expression
from engine.errors import DefinitionError
from engine.expressions import translate
from engine.scheduler.alarms import recipients
from engine.scheduler.deadlines import DeadlinePlanner, customer_tier, schedule_from_json, schedule_json
from engine.scheduler.holds import _merged
from engine.sla import Pause, SlaStage, parse_policies

POLICIES = """
[defaults]
calendar = "shanghai"
reminder_before = "PT1H"
warning_at = 0.75
escalate_after = "PT2H"

[roles]
agent = "service_manager"
technician = "service_manager"

[calendars.shanghai]
timezone = "Asia/Shanghai"
hours = ["09:00-12:00", "13:00-18:00"]
holidays = [{ from = 2026-10-01, to = 2026-10-07 }]
makeup_workdays = [2026-10-10]

[calendars.berlin]
timezone = "Europe/Berlin"
hours = "08:00-16:00"

[policies.complaint]
durations = { A = "PT4H", B = "P1D", C = "P2D", default = "P2D" }
match = [{ process = "complaint" }]

[policies.field]
calendar = "berlin"
durations = { A = "PT2H", default = "PT8H" }
escalate_after = false
match = [{ process = "repair" }]

[policies.loner]
durations = { default = "PT1H" }
reminder_before = false
warning_at = false
match = [{ process = "lonely" }]
"""


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def planner() -> DeadlinePlanner:
    return DeadlinePlanner(parse_policies(POLICIES, "sla.toml"))


def stages(
    planner: DeadlinePlanner, process: str, tier: str | None, at: datetime, role: str = "agent"
) -> dict[str, datetime]:
    plan = planner.plan(process, "Task_x", role, tier, at)
    assert plan is not None
    return {stage.value: when for stage, when in plan.schedule()}


def test_tier_a_gets_hours_tier_c_days(planner: DeadlinePlanner) -> None:
    monday_10_local = utc(2026, 1, 5, 2, 0)  # 10:00 in Shanghai
    a = stages(planner, "complaint", "A", monday_10_local)
    c = stages(planner, "complaint", "C", monday_10_local)
    untiered = stages(planner, "complaint", None, monday_10_local)
    assert a["breach"] == utc(2026, 1, 5, 7, 0)  # 10-12 and 13-15 local: 15:00 = 07:00 UTC
    assert c["breach"] == utc(2026, 1, 7, 2, 0)  # two working days of 8 h: Wednesday 10:00
    assert untiered == c


def test_working_time_skips_nights_and_weekends(planner: DeadlinePlanner) -> None:
    friday_17_local = utc(2026, 1, 9, 9, 0)
    got = stages(planner, "complaint", "A", friday_17_local)
    # 1 h on Friday, then nothing until Monday 09:00; 3 h more: Monday 12:00 local.
    assert got["breach"] == utc(2026, 1, 12, 4, 0)
    assert got["reminder"] == got["warning"] == utc(2026, 1, 12, 3, 0)  # 3 h used: Monday 11:00
    assert got["escalation"] == utc(2026, 1, 12, 7, 0)  # 2 working hours after, lunch skipped: 15:00


def test_holidays_count_for_nothing_and_makeup_days_count(planner: DeadlinePlanner) -> None:
    before_national_day = utc(2026, 9, 30, 9, 0)  # Wednesday 17:00 local; 1 to 7 October are holidays
    # 1 h on 30 September, the rest from Thursday 8 October 09:00: 12:00 local.
    assert stages(planner, "complaint", "A", before_national_day)["breach"] == utc(2026, 10, 8, 4, 0)
    friday_9_local = utc(2026, 10, 9, 1, 0)
    # Two working days: Friday, then Saturday 10 October, a make-up working day; 18:00 local.
    assert stages(planner, "complaint", "C", friday_9_local)["breach"] == utc(2026, 10, 10, 10, 0)


def test_calendars_keep_their_own_time_zone(planner: DeadlinePlanner) -> None:
    # 07:00 UTC is 08:00 in Berlin in winter: 2 h later is 10:00 Berlin = 09:00 UTC.
    assert stages(planner, "repair", "A", utc(2026, 1, 5, 7, 0), role="technician")["breach"] == utc(
        2026, 1, 5, 9
    )
    # In summer Berlin is UTC+2: 06:00 UTC is 08:00 there.
    assert stages(planner, "repair", "A", utc(2026, 7, 6, 6, 0), role="technician")["breach"] == utc(
        2026, 7, 6, 8
    )


def test_stages_come_in_order_and_switched_off_stages_are_left_out(planner: DeadlinePlanner) -> None:
    plan = planner.plan("repair", "Task_x", "technician", "A", utc(2026, 1, 5, 7, 0))
    assert plan is not None
    assert [stage for stage, _ in plan.offsets] == [SlaStage.REMINDER, SlaStage.WARNING, SlaStage.BREACH]
    loner = planner.plan("lonely", "Task_x", "agent", None, utc(2026, 1, 5, 2, 0))
    assert loner is not None and [s for s, _ in loner.offsets] == [SlaStage.BREACH, SlaStage.ESCALATION]
    assert loner.escalate_to == "service_manager"


def test_no_escalation_without_anyone_to_escalate_to(planner: DeadlinePlanner) -> None:
    plan = planner.plan("lonely", "Task_x", "dispatcher", None, utc(2026, 1, 5, 2, 0))  # no manager listed
    assert plan is not None and [s for s, _ in plan.offsets] == [SlaStage.BREACH]


def test_no_policy_no_plan(planner: DeadlinePlanner) -> None:
    assert planner.plan("unknown_process", "Task_x", "agent", "A", utc(2026, 1, 5)) is None
    assert DeadlinePlanner(None).plan("complaint", "Task_x", "agent", "A", utc(2026, 1, 5)) is None


def test_the_diagrams_due_date_is_the_deadline_in_calendar_time(planner: DeadlinePlanner) -> None:
    created = utc(2026, 1, 9, 9, 0)  # Friday evening in Shanghai: calendar time ignores that
    plan = planner.plan(
        "complaint", "Task_x", "agent", "A", created, diagram_due=created + timedelta(hours=8)
    )
    assert plan is not None and plan.calendar.name == "calendar"
    assert {s.value: t for s, t in plan.schedule()} == {
        "reminder": created + timedelta(hours=7),
        "warning": created + timedelta(hours=6),
        "breach": created + timedelta(hours=8),
        "escalation": created + timedelta(hours=10),
    }
    overdue_at_birth = planner.plan("complaint", "Task_x", "agent", "A", created, diagram_due=created)
    assert overdue_at_birth is not None
    assert [(s.value, t) for s, t in overdue_at_birth.schedule()] == [("breach", created)]
    without_policy = DeadlinePlanner(None).plan(
        "any", "Task_x", "agent", None, created, created + timedelta(hours=1)
    )
    assert without_policy is not None and [s.value for s, _ in without_policy.offsets] == ["breach"]


def test_a_schedule_survives_its_json(planner: DeadlinePlanner) -> None:
    plan = planner.plan("complaint", "Task_x", "agent", "B", utc(2026, 1, 5, 2, 0))
    assert plan is not None
    assert schedule_from_json(schedule_json(plan.schedule())) == plan.schedule()


@pytest.mark.parametrize(
    ("variables", "tier"),
    [
        ({"customer_tier": "A"}, "A"),
        ({"customer_tier": " b "}, "B"),
        ({"customer_tier": "VIP"}, None),
        ({"customer_tier": 1}, None),
        ({}, None),
    ],
)
def test_customer_tier_comes_from_the_case_variable(variables: dict[str, object], tier: str | None) -> None:
    assert customer_tier(variables) == tier


def test_who_is_told_at_each_stage() -> None:
    assert recipients(SlaStage.REMINDER, None, "agent", "service_manager") == ["role:agent"]
    assert recipients(SlaStage.REMINDER, "alice", "agent", "service_manager") == ["user:alice"]
    assert recipients(SlaStage.WARNING, "alice", "agent", None) == ["user:alice"]
    assert recipients(SlaStage.BREACH, "alice", "agent", None) == ["user:alice", "role:agent"]
    assert recipients(SlaStage.ESCALATION, "alice", "agent", "service_manager") == ["role:service_manager"]
    assert recipients(SlaStage.ESCALATION, "alice", "agent", None) == []


def test_everyone_who_may_take_an_unclaimed_task_is_told() -> None:
    """A task offered to candidate users only, or to several candidate groups, is nobody's
    until claimed: its reminders must reach each of them, not nobody or the first group only."""
    assert recipients(SlaStage.REMINDER, None, None, None, (), ("bob", "carol")) == ["user:bob", "user:carol"]
    assert recipients(SlaStage.WARNING, None, "agent", None, ("agent", "senior_agent"), ()) == [
        "role:agent", "role:senior_agent",
    ]
    assert recipients(SlaStage.REMINDER, "bob", None, None, (), ("bob", "carol")) == ["user:bob"]
    assert recipients(SlaStage.BREACH, "bob", "agent", None, ("agent", "senior_agent"), ("bob", "carol")) == [
        "user:bob", "user:carol", "role:agent", "role:senior_agent",
    ]


def test_overlapping_holds_count_once() -> None:
    t = utc(2026, 1, 5, 9)
    h = timedelta(hours=1)
    merged = _merged([(t, t + 2 * h), (t + h, t + 3 * h), (t + 5 * h, None), (t + 6 * h, t + 7 * h)])
    assert merged == [Pause(t, t + 3 * h), Pause(t + 5 * h, None)]
    assert _merged([(t, t + h), (t + 2 * h, t + 3 * h)]) == [Pause(t, t + h), Pause(t + 2 * h, t + 3 * h)]


def test_customer_waits_are_read_and_checked() -> None:
    waits = parse_policies(
        POLICIES + '\n[[customer_waits]]\nprocess = "callback"\nelement = "Event_wait"\n'
        '\n[[customer_waits]]\nelement = "Event_reply"\n'
    )
    assert waits.waits_on_customer("callback", "Event_wait")
    assert not waits.waits_on_customer("complaint", "Event_wait")
    assert waits.waits_on_customer("anything", "Event_reply")
    with pytest.raises(DefinitionError) as refused:
        parse_policies(POLICIES + '\n[[customer_waits]]\nprocess = "callback"\nstep = "x"\n', "sla.toml")
    [problem] = refused.value.problems
    assert problem.file == "sla.toml" and problem.line is not None and "element" in problem.message


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("timeDuration", "PT90M", utc(2026, 1, 5, 10, 30)),
        ("timeDuration", "P1M", utc(2026, 2, 5, 9, 0)),  # calendar months, from the moment reached
        ("timeDate", "2026-01-06T08:00:00+08:00", utc(2026, 1, 6, 0, 0)),
        ("timeDate", "2020-01-01T00:00:00Z", utc(2020, 1, 1)),  # in the past: fires at once
        ("timeCycle", "R3/PT10M", utc(2026, 1, 5, 9, 10)),
        ("timeCycle", "R/2026-01-06T01:00:00Z/P1D", utc(2026, 1, 6, 1, 0)),
        ("timeCycle", "R/2026-01-01T01:00:00Z/P1D", utc(2026, 1, 6, 1, 0)),  # started before: the next one
        ("timeCycle", "R2/2025-01-01T01:00:00Z/P1D", None),  # all repetitions lie in the past
    ],
)
def test_first_firing(kind: str, text: str, expected: datetime | None) -> None:
    assert first_firing(kind, text, utc(2026, 1, 5, 9, 0)) == expected


def test_first_firing_refuses_what_is_not_a_timer() -> None:
    for kind, text in [
        ("timeDuration", "PT2X"),
        ("timeCycle", "PT1H"),
        ("timeCycle", "R/P1D/2026-01-01T00:00Z"),
        ("timeDate", "tomorrow"),
    ]:
        with pytest.raises(ValueError):
            first_firing(kind, text, utc(2026, 1, 5))


def test_a_cycle_coalesces_missed_repetitions_and_keeps_its_rhythm() -> None:
    anchor = utc(2026, 1, 5, 9, 0)
    assert next_cycle_firing("R/PT1H", anchor, utc(2026, 1, 5, 10, 0)) == utc(2026, 1, 5, 11, 0)
    assert next_cycle_firing("R/PT1H", anchor, utc(2026, 1, 5, 14, 30)) == utc(2026, 1, 5, 15, 0)
    assert next_cycle_firing("R3/PT1H", anchor, utc(2026, 1, 5, 11, 0)) == utc(2026, 1, 5, 12, 0)
    assert next_cycle_firing("R3/PT1H", anchor, utc(2026, 1, 5, 12, 0)) is None


def test_timer_text_as_modelers_write_it() -> None:
    assert timer_expression("PT2H") == "'PT2H'"
    assert timer_expression(" R/P1D ") == "'R/P1D'"
    assert timer_expression("${escalation_after}") == translate("${escalation_after}")
    assert timer_expression("'PT5M'") == "'PT5M'"
