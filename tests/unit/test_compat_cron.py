"""Quartz cron cycles, as Camunda 7 accepts them in timeCycle: when they fire, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.bpmn.cron import CronError, is_cron, next_firing
from engine.bpmn.timers import first_firing, next_cycle_firing, timer_expression

NOW = datetime(2026, 1, 1, 12, 0, 3, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0/5 0/1 * 1/1 * ?", datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)),  # the corpus's order handling
        ("0 0 9 ? * MON-FRI", datetime(2026, 1, 2, 9, tzinfo=UTC)),
        ("0 0 9 ? * 2", datetime(2026, 1, 5, 9, tzinfo=UTC)),  # Quartz counts Sunday as 1: 2 is Monday
        ("0 0 9 ? * 2-6", datetime(2026, 1, 2, 9, tzinfo=UTC)),
        ("0 0 9 L * ?", datetime(2026, 1, 31, 9, tzinfo=UTC)),
        ("0 0 9 ? * 6L", datetime(2026, 1, 30, 9, tzinfo=UTC)),  # the last Friday
        ("0 0 9 ? * 6#3", datetime(2026, 1, 16, 9, tzinfo=UTC)),  # the third Friday
        ("0 30 8 1 JAN,JUL ?", datetime(2026, 7, 1, 8, 30, tzinfo=UTC)),
        ("0 0 12 * * ? 2027", datetime(2027, 1, 1, 12, tzinfo=UTC)),
        ("3 0 12 * * ?", datetime(2026, 1, 2, 12, 0, 3, tzinfo=UTC)),  # strictly after now
    ],
)
def test_cron_cycles_fire_at_the_moments_they_name(text: str, expected: datetime) -> None:
    assert is_cron(text)
    assert next_firing(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0 0 9 15W * ?", "nearest weekday"),
        ("0 0 9 L-3 * ?", "nearest weekday"),
        ("0 0 9 5 * 3", "either a day of the month or a day of the week"),
        ("0 0 25 * * ?", "higher than the maximum"),
        ("0 0 9 ? * 8", "1 (Sunday) to 7 (Saturday)"),
        ("0 0 9 ? * 1/2", "steps in the day-of-week field"),
        ("0 0 9 ? * 6#7", "week of the month from 1 to 5"),
    ],
)
def test_what_quartz_or_the_engine_does_not_take_is_refused(text: str, reason: str) -> None:
    with pytest.raises(CronError) as refused:
        next_firing(text, NOW)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "text", ["R/PT5M", "PT2H", "${cycle}", "a if b else c if d else e", "0 0 9 * *", "'0 0 9 * * ?'"]
)
def test_only_six_or_seven_cron_fields_are_read_as_cron(text: str) -> None:
    assert not is_cron(text)


def test_timers_read_a_cron_cycle_as_a_literal_that_fires_for_ever() -> None:
    assert timer_expression(" 0 0/5 * * * ? ") == repr("0 0/5 * * * ?")
    first = first_firing("timeCycle", "0 0/5 * * * ?", NOW)
    assert first == datetime(2026, 1, 1, 12, 5, tzinfo=UTC)
    assert first is not None
    assert next_cycle_firing("0 0/5 * * * ?", NOW, first) == datetime(2026, 1, 1, 12, 10, tzinfo=UTC)
