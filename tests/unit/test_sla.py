from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.calendar import CALENDAR_TIME, BusinessCalendar, weekly
from engine.errors import BadRequest, DefinitionError
from engine.sla import (
    ClockState,
    SlaClock,
    SlaPolicy,
    SlaStage,
    compute_deadline,
    load_policies,
    parse_policies,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "processes" / "sla.toml"


def sh(*args):
    return datetime(*args).replace(tzinfo=SHANGHAI)


@pytest.fixture
def office():
    return BusinessCalendar("office", "Asia/Shanghai", weekly("09:00-12:00, 13:00-18:00"))


@pytest.fixture
def policy():
    return SlaPolicy(
        "test",
        {"A": 4 * H, "B": 8 * H, "C": 16 * H},
        default=16 * H,
        calendar="office",
        reminder_before=H,
        warning_at=0.75,
        escalate_after=2 * H,
    )


# --- policies and deadlines ---------------------------------------------------------------------


def test_stage_order_property():
    assert [s.order for s in SlaStage] == [0, 1, 2, 3]
    assert SlaStage.BREACH.value == "breach"


def test_tiers_get_different_deadlines(office, policy):
    start = sh(2026, 1, 5, 9, 0)  # Monday; 8 working hours a day
    due = {tier: compute_deadline(policy, office, tier, start).due_at for tier in ("A", "B", "C", None, "Z")}
    assert due["A"] == sh(2026, 1, 5, 14, 0)
    assert due["B"] == sh(2026, 1, 5, 18, 0)
    assert due["C"] == sh(2026, 1, 6, 18, 0)
    assert due[None] == due["Z"] == due["C"]


def test_stage_times_in_order(office, policy):
    deadline = compute_deadline(policy, office, "B", sh(2026, 1, 5, 9, 0))
    assert deadline.stages == (
        (SlaStage.WARNING, sh(2026, 1, 5, 16, 0)),  # 6 of 8 hours
        (SlaStage.REMINDER, sh(2026, 1, 5, 17, 0)),  # 1 hour before
        (SlaStage.BREACH, sh(2026, 1, 5, 18, 0)),
        (SlaStage.ESCALATION, sh(2026, 1, 6, 11, 0)),  # +2 working hours, overnight
    )
    times = [at for _, at in deadline.stages]
    assert times == sorted(times)
    assert deadline.at(SlaStage.BREACH) == deadline.due_at
    assert deadline.next_after(sh(2026, 1, 5, 16, 30)) == (SlaStage.REMINDER, sh(2026, 1, 5, 17, 0))


def test_stages_at_the_same_time_keep_stage_order(office, policy):
    deadline = compute_deadline(policy, office, "A", sh(2026, 1, 5, 9, 0))  # 4 hours: both at 3 hours
    assert deadline.at(SlaStage.REMINDER) == deadline.at(SlaStage.WARNING) == sh(2026, 1, 5, 12, 0)
    assert [s for s, _ in deadline.stages] == [
        SlaStage.REMINDER,
        SlaStage.WARNING,
        SlaStage.BREACH,
        SlaStage.ESCALATION,
    ]


def test_stages_sorted_by_time_not_by_kind():
    early_reminder = SlaPolicy("s", {}, default=2 * H, reminder_before=1.5 * H, warning_at=0.75)
    stages = compute_deadline(early_reminder, CALENDAR_TIME, "A", sh(2026, 1, 5, 9, 0)).stages
    assert [s for s, _ in stages] == [SlaStage.REMINDER, SlaStage.WARNING, SlaStage.BREACH]


def test_reminder_longer_than_sla_is_left_out(office):
    policy = SlaPolicy("p", {}, default=H, reminder_before=2 * H)
    assert [s for s, _ in compute_deadline(policy, office, None, sh(2026, 1, 5, 9)).stages] == [
        SlaStage.BREACH
    ]


def test_stages_switched_off(office):
    policy = SlaPolicy("p", {}, default=H)
    deadline = compute_deadline(policy, office, None, sh(2026, 1, 5, 9))
    assert deadline.stages == ((SlaStage.BREACH, sh(2026, 1, 5, 10)),)


def test_escalation_at_breach_when_after_is_zero(office):
    policy = SlaPolicy("p", {}, default=H, escalate_after=timedelta(0))
    stages = compute_deadline(policy, office, None, sh(2026, 1, 5, 9)).stages
    assert stages == ((SlaStage.BREACH, sh(2026, 1, 5, 10)), (SlaStage.ESCALATION, sh(2026, 1, 5, 10)))


def test_start_outside_hours_and_calendar_time(office, policy):
    friday_evening = sh(2026, 1, 9, 20, 0)
    assert compute_deadline(policy, office, "A", friday_evening).due_at == sh(2026, 1, 12, 14, 0)
    assert compute_deadline(policy, CALENDAR_TIME, "A", friday_evening).due_at == sh(2026, 1, 10, 0, 0)


def test_paused_time_shifts_every_stage(office, policy):
    start = sh(2026, 1, 5, 9, 0)
    plain = compute_deadline(policy, office, "A", start)
    paused = compute_deadline(policy, office, "A", start, paused=2 * H)
    for (stage, before), (same, after) in zip(plain.stages, paused.stages, strict=True):
        assert stage is same
        assert office.between(before, after) == 2 * H


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"durations": {"A": 8 * H, "C": 4 * H}}, "tier A must not get more time than tier C"),
        ({"durations": {"X": H}}, "unknown customer tier"),
        ({"durations": {"A": timedelta(0)}}, "longer than zero"),
        ({"warning_at": 1.5}, "between 0 and 1"),
        ({"reminder_before": timedelta(0)}, "reminder_before"),
        ({"escalate_after": -H}, "negative"),
    ],
)
def test_invalid_policies(kwargs, message):
    arguments = {"durations": {}, "default": 8 * H, **kwargs}
    with pytest.raises(ValueError, match=message):
        SlaPolicy("p", **arguments)


# --- the pausable clock -------------------------------------------------------------------------


def test_clock_without_pauses_matches_compute_deadline(office, policy):
    start = sh(2026, 1, 5, 9, 0)
    clock = SlaClock(office, start)
    assert clock.deadline(policy, "B", sh(2026, 1, 5, 10)) == compute_deadline(policy, office, "B", start)


def test_pause_shifts_only_stages_not_yet_reached(office, policy):
    start = sh(2026, 1, 5, 9, 0)
    # Warning (16:00) has passed when the case starts waiting on the customer at 16:30.
    clock = SlaClock(office, start).pause(sh(2026, 1, 5, 16, 30)).resume(sh(2026, 1, 6, 10, 30))
    deadline = clock.deadline(policy, "B", sh(2026, 1, 6, 10, 30))
    # Paused working time: 16:30-18:00 + 09:00-10:30 = 3 hours.
    assert clock.paused_time(sh(2026, 1, 6, 10, 30)) == 3 * H
    assert deadline.at(SlaStage.WARNING) == sh(2026, 1, 5, 16, 0)
    assert deadline.at(SlaStage.REMINDER) == sh(2026, 1, 6, 11, 0)  # 30 min left when paused
    assert deadline.due_at == sh(2026, 1, 6, 12, 0)  # 1h30 left when paused
    assert deadline.at(SlaStage.ESCALATION) == sh(2026, 1, 6, 15, 0)  # +2h after lunch


def test_pause_over_weekend_costs_only_working_time(office, policy):
    start = sh(2026, 1, 9, 9, 0)  # Friday
    clock = SlaClock(office, start).pause(sh(2026, 1, 9, 17, 0)).resume(sh(2026, 1, 12, 10, 0))
    now = sh(2026, 1, 12, 10, 0)
    assert clock.paused_time(now) == 2 * H
    assert clock.used(now) == 7 * H
    assert (
        clock.deadline(policy, "C", now).due_at
        == compute_deadline(policy, office, "C", start, paused=2 * H).due_at
    )


def test_status_while_running_paused_and_stopped(office, policy):
    start = sh(2026, 1, 5, 9, 0)
    clock = SlaClock(office, start)
    running = clock.status(policy, "A", sh(2026, 1, 5, 13, 30))
    assert running.state is ClockState.RUNNING
    assert running.used == 3.5 * H
    assert running.remaining == 0.5 * H
    assert running.reached == (SlaStage.REMINDER, SlaStage.WARNING)
    assert running.next_stage == (SlaStage.BREACH, sh(2026, 1, 5, 14, 0))

    paused = clock.pause(sh(2026, 1, 5, 13, 30))
    waiting = paused.status(policy, "A", sh(2026, 1, 6, 17, 0))
    assert waiting.state is ClockState.PAUSED
    assert waiting.used == 3.5 * H  # the clock does not run while the customer is awaited
    assert waiting.next_stage is None
    assert waiting.paused == 11.5 * H

    resumed = paused.resume(sh(2026, 1, 7, 9, 0))
    assert resumed.status(policy, "A", sh(2026, 1, 7, 9, 10)).next_stage == (
        SlaStage.BREACH,
        sh(2026, 1, 7, 9, 30),
    )
    late = resumed.status(policy, "A", sh(2026, 1, 7, 11, 0))
    assert late.overdue == 1.5 * H
    assert SlaStage.BREACH in late.reached

    done = resumed.stop(sh(2026, 1, 7, 9, 15))
    final = done.status(policy, "A", sh(2026, 1, 9, 9, 0))
    assert final.state is ClockState.STOPPED
    assert final.used == 3.75 * H
    assert final.next_stage is None
    assert SlaStage.BREACH not in final.reached


def test_open_pause_projects_from_now(office, policy):
    clock = SlaClock(office, sh(2026, 1, 5, 9, 0)).pause(sh(2026, 1, 5, 10, 0))
    assert clock.deadline(policy, "A", sh(2026, 1, 5, 11, 0)).due_at == sh(2026, 1, 5, 15, 0)
    assert clock.deadline(policy, "A", sh(2026, 1, 5, 15, 0)).due_at == sh(2026, 1, 5, 18, 0)


def test_stop_while_paused_closes_the_pause(office):
    clock = SlaClock(office, sh(2026, 1, 5, 9)).pause(sh(2026, 1, 5, 10)).stop(sh(2026, 1, 5, 11))
    assert clock.state is ClockState.STOPPED
    assert clock.pauses[-1].end == sh(2026, 1, 5, 11)
    assert clock.used(sh(2026, 1, 6, 9)) == H


def test_clock_refuses_nonsense_commands(office):
    clock = SlaClock(office, sh(2026, 1, 5, 9))
    with pytest.raises(BadRequest, match="resume"):
        clock.resume(sh(2026, 1, 5, 10))
    paused = clock.pause(sh(2026, 1, 5, 10))
    with pytest.raises(BadRequest, match="pause"):
        paused.pause(sh(2026, 1, 5, 11))
    with pytest.raises(BadRequest, match="not earlier"):
        paused.resume(sh(2026, 1, 5, 9, 30))
    stopped = clock.stop(sh(2026, 1, 5, 10))
    with pytest.raises(BadRequest, match="already stopped"):
        stopped.stop(sh(2026, 1, 5, 11))
    with pytest.raises(ValueError, match="time order"):
        SlaClock(office, sh(2026, 1, 5, 9), stopped_at=sh(2026, 1, 5, 8))


# --- the policy file ----------------------------------------------------------------------------

SAMPLE = """
[defaults]
calendar = "office"
policy = "fallback"
reminder_before = "PT1H"
warning_at = 0.75

[roles]
agent = "service_manager"
technician = "service_manager"
service_manager = "director"

[calendars.office]
timezone = "Asia/Shanghai"
hours = ["09:00-12:00", "13:00-18:00"]
holidays = [2026-10-01, { name = "Golden week", from = 2026-10-02, to = 2026-10-07 }]
makeup_workdays = [{ date = 2026-10-10 }]

[calendars.office.days]
sat = []
fri = ["09:00-12:00"]

[policies.fallback]
durations = { A = "P1D", B = "P2D", C = "P3D", default = "P3D" }

[policies.repair_task]
durations = { A = "PT2H", default = "PT4H" }
reminder_before = false
escalate_to = "director"
match = [{ process = "repair", task = "fix" }]

[policies.repair_tech]
durations = { A = "PT3H", default = "PT5H" }
match = [{ process = "repair", role = "technician" }]

[policies.repair_any]
durations = { A = "PT6H", default = "PT6H" }
match = [{ process = "repair" }]

[policies.technician]
durations = { default = "PT7H" }
calendar = "calendar"
match = [{ role = "technician" }]
"""


@pytest.fixture
def policy_set():
    return parse_policies(SAMPLE, "sample.toml")


def test_most_specific_match_wins(policy_set):
    assert policy_set.for_task("repair", "fix", "technician").name == "repair_task"
    assert policy_set.for_task("repair", "other", "technician").name == "repair_tech"
    assert policy_set.for_task("repair", "other", "agent").name == "repair_any"
    assert policy_set.for_task("complaint", "x", "technician").name == "technician"
    assert policy_set.for_task("complaint", "x", "agent").name == "fallback"
    assert policy_set.for_task("complaint", "x", None).name == "fallback"


def test_no_default_policy_means_no_sla():
    text = SAMPLE.replace('policy = "fallback"\n', "")
    assert parse_policies(text).for_task("complaint", "x", None) is None


def test_defaults_are_inherited_and_can_be_switched_off(policy_set):
    assert policy_set.policies["fallback"].reminder_before == H
    assert policy_set.policies["fallback"].warning_at == 0.75
    assert policy_set.policies["repair_task"].reminder_before is None
    assert policy_set.policies["technician"].calendar == "calendar"


def test_days_in_durations_are_working_days(policy_set):
    fallback = policy_set.policies["fallback"]
    assert fallback.duration_for("A") == 8 * H
    assert fallback.duration_for("B") == 16 * H
    assert policy_set.policies["technician"].default == 7 * H


def test_calendar_from_file(policy_set):
    office = policy_set.calendars["office"]
    assert not office.is_working(sh(2026, 10, 5, 10))  # golden week
    assert office.is_working(sh(2026, 10, 10, 10))  # make-up Saturday
    assert not office.is_working(sh(2026, 10, 9, 14))  # Friday afternoon off
    assert policy_set.calendars["calendar"] is CALENDAR_TIME


def test_escalation_role(policy_set):
    assert policy_set.escalation_role(policy_set.policies["fallback"], "technician") == "service_manager"
    assert policy_set.escalation_role(policy_set.policies["fallback"], "service_manager") == "director"
    assert policy_set.escalation_role(policy_set.policies["fallback"], "director") is None
    assert policy_set.escalation_role(policy_set.policies["repair_task"], "technician") == "director"


def test_deadline_for_task(policy_set):
    deadline = policy_set.deadline_for_task("repair", "fix", "technician", "A", sh(2026, 9, 30, 17, 0))
    # One hour on 30 September, then the holiday week, Thursday the 8th from 09:00.
    assert deadline.due_at == sh(2026, 10, 8, 10, 0)


def _problems(text):
    with pytest.raises(DefinitionError) as caught:
        parse_policies(text, "sla.toml")
    return caught.value.problems


def _line_of(text, needle):
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_bad_duration_reports_file_line_and_key():
    text = SAMPLE.replace(
        'durations = { A = "PT3H", default = "PT5H" }', 'durations = { A = "3h", default = "PT5H" }'
    )
    [problem] = _problems(text)
    assert problem.file == "sla.toml"
    assert problem.line == _line_of(text, '"3h"')
    assert problem.element_id == "policies.repair_tech.durations.A"
    assert "must start with 'P'" in problem.message
    assert "sla.toml" in str(DefinitionError([problem]))


def test_bad_inherited_default_is_reported_at_defaults():
    text = SAMPLE.replace('reminder_before = "PT1H"', 'reminder_before = "PT1X"')
    problems = _problems(text)
    assert {p.element_id for p in problems} == {"defaults.reminder_before"}
    assert all(p.line == _line_of(text, "PT1X") for p in problems)


def test_toml_syntax_error_has_line():
    [problem] = _problems(SAMPLE + "\n[policies.broken\n")
    assert problem.line == len((SAMPLE + "\n[policies.broken\n").splitlines())
    assert "not valid TOML" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "element_id", "message"),
    [
        ('calendar = "calendar"', 'calendar = "nowhere"', "policies.technician.calendar", "not defined"),
        (
            'timezone = "Asia/Shanghai"',
            'timezone = "Mars/Olympus"',
            "calendars.office.timezone",
            "unknown time zone",
        ),
        (
            'match = [{ role = "technician" }]',
            'match = [{ role = "plumber" }]',
            "policies.technician.match.0",
            "unknown role",
        ),
        (
            'escalate_to = "director"',
            'escalate_to = "boss"',
            "policies.repair_task.escalate_to",
            "unknown role",
        ),
        ('{ A = "PT2H", default = "PT4H" }', '{ A = "PT2H" }', "policies.repair_task.durations", "'default'"),
        (
            '{ A = "PT2H", default = "PT4H" }',
            '{ A = "PT5H", default = "PT4H", a = "PT1H" }',
            "policies.repair_task.durations.a",
            "unknown tier",
        ),
        (
            '{ A = "PT3H", default = "PT5H" }',
            '{ A = "PT3H", B = "PT2H", default = "PT5H" }',
            "policies.repair_tech",
            "tier A must not",
        ),
        (
            '{ A = "PT3H", default = "PT5H" }',
            '{ A = "P1M", default = "PT5H" }',
            "policies.repair_tech.durations.A",
            "no fixed length",
        ),
        ("warning_at = 0.75", "warning_at = 75", "defaults.warning_at", "fraction"),
        ('policy = "fallback"', 'policy = "missing"', "defaults.policy", "not defined"),
        ("[calendars.office.days]", "[calendars.office.dayz]", "calendars.office.dayz", "unknown key"),
        (
            'hours = ["09:00-12:00", "13:00-18:00"]',
            'hours = ["09:00-12:00", "11:00-18:00"]',
            "calendars.office.hours",
            "overlap",
        ),
        ("sat = []", "caturday = []", "calendars.office.days.caturday", "unknown weekday"),
        ("[{ date = 2026-10-10 }]", "[{ date = 2026-10-01 }]", "calendars.office", "both a holiday"),
        (
            "holidays = [2026-10-01,",
            'holidays = ["2026-10-01",',
            "calendars.office.holidays.0",
            "must be a date",
        ),
        (
            '{ process = "repair", task = "fix" }',
            '{ task = "fix" }',
            "policies.repair_task.match.0",
            "needs its process",
        ),
        (
            '{ process = "repair" }',
            '{ process = "repair", task = "fix" }',
            "policies.repair_any.match",
            "matched by both",
        ),
        (
            'service_manager = "director"',
            'service_manager = "service_manager"',
            "roles.service_manager",
            "own manager",
        ),
    ],
)
def test_file_errors(old, new, element_id, message):
    assert old in SAMPLE
    text = SAMPLE.replace(old, new, 1)
    problems = _problems(text)
    matching = [p for p in problems if p.element_id == element_id]
    assert matching, [str(p) for p in problems]
    assert message in matching[0].message
    assert matching[0].file == "sla.toml"
    assert matching[0].line is not None


def test_several_problems_reported_together():
    text = SAMPLE.replace('"PT3H"', '"3h"').replace('"PT6H", default', '"6h", default')
    assert len(_problems(text)) >= 2


def test_missing_file():
    with pytest.raises(DefinitionError, match="cannot read"):
        load_policies("/nonexistent/sla.toml")


# --- the shipped default file -------------------------------------------------------------------


def _policy(policies, process, task, role):
    policy = policies.for_task(process, task, role)
    assert policy is not None
    return policy


def test_default_file_loads_and_covers_the_processes():
    policies = load_policies(DEFAULT_FILE)
    for process in ("complaint", "repair", "compensation", "service_agreement", "callback"):
        assert policies.for_task(process, "any_task", "agent") is not None
    assert _policy(policies, "complaint", "Task_record_complaint", "agent").name == "complaint_acknowledge"
    assert _policy(policies, "repair", "Task_complete_order", "technician").name == "repair_work"
    assert _policy(policies, "repair", "Task_arrange_parts", "dispatcher").name == "repair_parts"
    assert _policy(policies, "repair", "Task_dispatch", "dispatcher").name == "repair_dispatch"
    assert _policy(policies, "repair", "Task_settle", "finance").name == "finance_payment"
    assert _policy(policies, "callback", "call", "agent").calendar == "calendar"
    for role in ("agent", "complaint_handler", "dispatcher", "technician"):
        assert policies.managers[role] == "service_manager"
    for role in ("service_manager", "finance", "account_manager"):
        assert policies.managers[role] == "director"
    for policy in policies.policies.values():
        assert policy.duration_for("A") <= policy.duration_for("B") <= policy.duration_for("C")


def test_default_file_china_calendar():
    office = load_policies(DEFAULT_FILE).calendars["china_office"]
    assert isinstance(office, BusinessCalendar)
    assert office.working_day == timedelta(hours=7, minutes=30)
    assert not office.is_working(sh(2026, 10, 1, 10))  # National Day
    assert not office.is_working(sh(2026, 2, 17, 10))  # Spring Festival
    assert office.is_working(sh(2026, 2, 14, 10))  # make-up Saturday
    assert office.is_working(sh(2026, 10, 8, 10))
    assert not office.is_working(sh(2026, 10, 8, 12, 30))  # lunch
    assert date(2027, 10, 1) in office.holidays
    started = datetime(2026, 9, 30, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai, the eve of National Day
    assert office.add(started, 2 * H) == sh(2026, 10, 8, 10, 0)
