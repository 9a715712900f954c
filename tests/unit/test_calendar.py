import random
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.calendar import (
    CALENDAR_TIME,
    WEEKDAYS,
    BusinessCalendar,
    WorkInterval,
    parse_hours,
    weekly,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def local(zone, *args):
    return datetime(*args).replace(tzinfo=zone)


def sh(*args):
    return local(SHANGHAI, *args)


@pytest.fixture
def office():
    # 2026-02-16 (Mon) is a holiday; 2026-02-14 (Sat) is a make-up workday.
    return BusinessCalendar(
        "office",
        "Asia/Shanghai",
        weekly("09:00-12:00, 13:30-18:00"),
        holidays=frozenset({date(2026, 2, 16)}),
        extra_workdays=frozenset({date(2026, 2, 14)}),
    )


# 2026-01-05 is a Monday.


def test_add_within_one_interval(office):
    assert office.add(sh(2026, 1, 5, 9, 30), H) == sh(2026, 1, 5, 10, 30)


def test_result_is_utc(office):
    result = office.add(sh(2026, 1, 5, 9, 30), H)
    assert result.tzinfo == UTC
    assert result == datetime(2026, 1, 5, 2, 30, tzinfo=UTC)


def test_add_skips_lunch(office):
    assert office.add(sh(2026, 1, 5, 11, 0), 2 * H) == sh(2026, 1, 5, 14, 30)


def test_add_across_night(office):
    assert office.add(sh(2026, 1, 5, 17, 0), 2 * H) == sh(2026, 1, 6, 10, 0)


def test_add_across_weekend(office):
    assert office.add(sh(2026, 1, 9, 17, 0), 2 * H) == sh(2026, 1, 12, 10, 0)


@pytest.mark.parametrize(
    "start",
    [sh(2026, 1, 5, 7, 0), sh(2026, 1, 4, 23, 0), sh(2026, 1, 3, 12, 0), sh(2026, 1, 2, 18, 0)],
    ids=["before-opening", "sunday-night", "saturday", "friday-closing"],
)
def test_start_outside_hours_counts_from_next_opening(office, start):
    assert office.add(start, H) == sh(2026, 1, 5, 10, 0)


def test_start_at_lunch_counts_from_afternoon(office):
    assert office.add(sh(2026, 1, 5, 12, 30), H) == sh(2026, 1, 5, 14, 30)


def test_ending_exactly_at_closing_gives_closing_time(office):
    assert office.add(sh(2026, 1, 5, 17, 0), H) == sh(2026, 1, 5, 18, 0)
    assert office.add(sh(2026, 1, 5, 9, 0), timedelta(hours=7, minutes=30)) == sh(2026, 1, 5, 18, 0)


def test_zero_duration_returns_start(office):
    assert office.add(sh(2026, 1, 3, 12, 0), timedelta(0)) == sh(2026, 1, 3, 12, 0)


def test_whole_working_days_land_on_same_time(office):
    assert office.add(sh(2026, 1, 5, 10, 0), 2 * office.working_day) == sh(2026, 1, 7, 10, 0)
    assert office.add(sh(2026, 1, 5, 10, 0), office.working_week) == sh(2026, 1, 12, 10, 0)


def test_working_day_and_week_lengths(office):
    assert office.working_day == timedelta(hours=7, minutes=30)
    assert office.working_week == timedelta(hours=37, minutes=30)


def test_holiday_is_skipped(office):
    # Friday 2026-02-13 17:00 + 2h: Saturday 14th is a make-up day, so it ends there.
    assert office.add(sh(2026, 2, 13, 17, 0), 2 * H) == sh(2026, 2, 14, 10, 0)
    # From the make-up Saturday's closing: Sunday off, Monday 16th holiday, Tuesday it is.
    assert office.add(sh(2026, 2, 14, 18, 0), H) == sh(2026, 2, 17, 10, 0)


def test_makeup_day_is_working(office):
    assert office.is_working(sh(2026, 2, 14, 10, 0))
    assert not office.is_working(sh(2026, 2, 21, 10, 0))  # an ordinary Saturday
    assert not office.is_working(sh(2026, 2, 16, 10, 0))  # the holiday


def test_is_working_boundaries(office):
    assert office.is_working(sh(2026, 1, 5, 9, 0))
    assert not office.is_working(sh(2026, 1, 5, 8, 59, 59))
    assert office.is_working(sh(2026, 1, 5, 11, 59, 59))
    assert not office.is_working(sh(2026, 1, 5, 12, 0))
    assert not office.is_working(sh(2026, 1, 5, 18, 0))


def test_between_same_day_and_across_days(office):
    assert office.between(sh(2026, 1, 5, 9, 0), sh(2026, 1, 5, 14, 0)) == timedelta(hours=3, minutes=30)
    assert office.between(sh(2026, 1, 9, 17, 0), sh(2026, 1, 12, 10, 0)) == 2 * H
    assert office.between(sh(2026, 1, 3, 0, 0), sh(2026, 1, 4, 23, 0)) == timedelta(0)


def test_between_negative_when_reversed(office):
    assert office.between(sh(2026, 1, 5, 14, 0), sh(2026, 1, 5, 9, 0)) == -timedelta(hours=3, minutes=30)


def test_between_over_holiday_and_makeup_day(office):
    # Mon 9th .. Tue 17th: Mon-Fri (5 days) + make-up Saturday, holiday Monday excluded.
    assert office.between(sh(2026, 2, 9, 0, 0), sh(2026, 2, 17, 0, 0)) == 6 * office.working_day


def test_rejects_naive_and_negative(office):
    with pytest.raises(ValueError, match="time zone"):
        office.add(datetime(2026, 1, 5, 9), H)
    with pytest.raises(ValueError, match="time zone"):
        office.between(datetime(2026, 1, 5, 9), sh(2026, 1, 5, 9))
    with pytest.raises(ValueError, match="negative"):
        office.add(sh(2026, 1, 5, 9), -H)


# --- daylight saving time -----------------------------------------------------------------------


def test_berlin_office_hours_across_spring_forward():
    berlin = BusinessCalendar("berlin", "Europe/Berlin", weekly("09:00-17:00"))
    # Clocks go forward on Sunday 2026-03-29; Friday 16:00 CET + 2h -> Monday 10:00 CEST.
    result = berlin.add(local(BERLIN, 2026, 3, 27, 16, 0), 2 * H)
    assert result == local(BERLIN, 2026, 3, 30, 10, 0)
    assert result == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_berlin_day_of_spring_forward_has_23_hours():
    always = BusinessCalendar("24x7", "Europe/Berlin", weekly("00:00-24:00", WEEKDAYS))
    day_start, next_day = local(BERLIN, 2026, 3, 29, 0, 0), local(BERLIN, 2026, 3, 30, 0, 0)
    assert always.between(day_start, next_day) == 23 * H
    assert always.add(day_start, 23 * H) == next_day


def test_berlin_day_of_fall_back_has_25_hours():
    always = BusinessCalendar("24x7", "Europe/Berlin", weekly("00:00-24:00", WEEKDAYS))
    day_start, next_day = local(BERLIN, 2026, 10, 25, 0, 0), local(BERLIN, 2026, 10, 26, 0, 0)
    assert always.between(day_start, next_day) == 25 * H


def test_new_york_shift_through_the_changed_hour():
    night = BusinessCalendar("night", "America/New_York", weekly("00:00-03:00", WEEKDAYS))
    # 2026-03-08: 02:00 does not exist, the shift lasts 2 real hours.
    assert night.between(local(NEW_YORK, 2026, 3, 8, 0), local(NEW_YORK, 2026, 3, 8, 12)) == 2 * H
    # 2026-11-01: 01:00-02:00 happens twice, the shift lasts 4 real hours.
    assert night.between(local(NEW_YORK, 2026, 11, 1, 0), local(NEW_YORK, 2026, 11, 1, 12)) == 4 * H
    assert night.add(local(NEW_YORK, 2026, 11, 1, 0), 4 * H) == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_new_york_office_keeps_wall_clock_hours_after_dst():
    ny = BusinessCalendar("ny", "America/New_York", weekly("09:00-17:00"))
    result = ny.add(local(NEW_YORK, 2026, 3, 6, 16, 0), 2 * H)
    assert result.astimezone(NEW_YORK) == local(NEW_YORK, 2026, 3, 9, 10, 0)
    assert result.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-4)


# --- time zones ---------------------------------------------------------------------------------


def test_same_instant_different_offices():
    instant = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai, 09:00 in New York
    shanghai = BusinessCalendar("sh", "Asia/Shanghai", weekly("09:00-18:00"))
    new_york = BusinessCalendar("ny", "America/New_York", weekly("09:00-18:00"))
    assert not shanghai.is_working(instant)
    assert new_york.is_working(instant)
    assert shanghai.add(instant, H) == sh(2026, 1, 6, 10, 0)
    assert new_york.add(instant, H) == local(NEW_YORK, 2026, 1, 5, 10, 0)


def test_default_time_zone_is_shanghai():
    assert BusinessCalendar("x").timezone == "Asia/Shanghai"


def test_input_in_other_zone_is_converted():
    shanghai = BusinessCalendar("sh", "Asia/Shanghai", weekly("09:00-18:00"))
    start_in_berlin = local(BERLIN, 2026, 1, 5, 2, 0)  # 09:00 in Shanghai
    assert shanghai.add(start_in_berlin, H) == sh(2026, 1, 5, 10, 0)


# --- construction -------------------------------------------------------------------------------


def test_parse_hours_sorts_and_formats():
    assert parse_hours("13:30-18:00, 09:00-12:00") == (WorkInterval(540, 720), WorkInterval(810, 1080))
    assert str(WorkInterval.parse("22:00-24:00")) == "22:00-24:00"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("9-12", "not a time"),
        ("09:00", "must look like"),
        ("12:00-09:00", "start before"),
        ("09:00-25:00", "not a time of day"),
        ("09:00-12:00, 11:00-13:00", "overlap"),
    ],
)
def test_bad_hours_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_hours(spec)


def test_bad_calendars_are_refused():
    with pytest.raises(ValueError, match="unknown weekday"):
        weekly("09:00-18:00", ["monday"])
    with pytest.raises(ValueError, match="no working hours"):
        BusinessCalendar("x", hours=((),) * 7)
    with pytest.raises(ValueError, match="both a holiday and a make-up"):
        BusinessCalendar(
            "x", holidays=frozenset({date(2026, 1, 3)}), extra_workdays=frozenset({date(2026, 1, 3)})
        )
    with pytest.raises(ValueError, match="7 weekdays"):
        BusinessCalendar("x", hours=((),))


def test_makeup_hours_default_to_usual_weekday_hours():
    calendar = BusinessCalendar(
        "x",
        hours=(*weekly("09:00-18:00")[:4], parse_hours("09:00-15:00"), (), ()),
        extra_workdays=frozenset({date(2026, 1, 10)}),
    )
    assert calendar.makeup_hours == parse_hours("09:00-18:00")
    assert calendar.between(sh(2026, 1, 10, 0), sh(2026, 1, 11, 0)) == 9 * H


def test_calendar_is_hashable_and_comparable():
    assert BusinessCalendar("x") == BusinessCalendar("x")
    assert hash(BusinessCalendar("x")) == hash(BusinessCalendar("x"))


# --- round-the-clock ----------------------------------------------------------------------------


def test_calendar_time():
    start = sh(2026, 1, 3, 23, 0)
    assert CALENDAR_TIME.name == "calendar"
    assert CALENDAR_TIME.add(start, 2 * H) == sh(2026, 1, 4, 1, 0)
    assert CALENDAR_TIME.add(start, 2 * H).tzinfo == UTC
    assert CALENDAR_TIME.between(start, sh(2026, 1, 4, 1, 0)) == 2 * H
    assert CALENDAR_TIME.is_working(start)
    assert CALENDAR_TIME.working_day == 24 * H


# --- agreement with a slow reference, and speed -------------------------------------------------


def _reference_between(calendar, a, b):
    minutes, t = 0, a
    while t < b:
        minutes += calendar.is_working(t)
        t += timedelta(minutes=1)
    return timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("calendar", "base"),
    [
        (
            BusinessCalendar(
                "be",
                "Europe/Berlin",
                weekly("01:30-04:00, 08:00-12:00, 13:00-18:00"),
                holidays=frozenset({date(2026, 3, 30)}),
                extra_workdays=frozenset({date(2026, 3, 28)}),
            ),
            datetime(2026, 3, 25, tzinfo=UTC),
        ),
        (
            BusinessCalendar(
                "ny", "America/New_York", weekly("00:00-03:00, 09:00-17:00, 22:00-24:00", WEEKDAYS)
            ),
            datetime(2026, 10, 29, tzinfo=UTC),
        ),
    ],
    ids=["berlin-spring", "new-york-autumn"],
)
def test_agrees_with_minute_by_minute_reference(calendar, base):
    rng = random.Random(7)
    for _ in range(25):
        a = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 4))
        b = a + timedelta(minutes=rng.randrange(0, 60 * 24 * 4))
        expected = _reference_between(calendar, a, b)
        assert calendar.between(a, b) == expected
        if expected:
            end = calendar.add(a, expected)
            assert end <= b
            assert calendar.between(a, end) == expected


def test_thousand_business_days_is_fast(office):
    start = sh(2026, 1, 5, 10, 0)
    duration = 1000 * office.working_day
    end = office.add(start, duration)  # first call fills the per-year DST cache
    runs = 50
    began = time.perf_counter()
    for _ in range(runs):
        office.add(start, duration)
        office.between(start, end)
    per_call = (time.perf_counter() - began) / (2 * runs)
    assert per_call < 0.002
    assert office.between(start, end) == duration
    assert end.astimezone(SHANGHAI).time().hour == 10
