from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from engine.iso8601 import (
    Iso8601Error,
    IsoDuration,
    parse_cycle,
    parse_datetime,
    parse_duration,
    parse_iso_duration,
)

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", timedelta(hours=4)),
        ("PT30M", timedelta(minutes=30)),
        ("PT45S", timedelta(seconds=45)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("PT1,5H", timedelta(hours=1, minutes=30)),
        ("P2D", timedelta(days=2)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("P1.5D", timedelta(hours=36)),
        ("PT0S", timedelta(0)),
        ("PT36H", timedelta(hours=36)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("", 0, "must start with 'P'"),
        ("pt4h", 0, "upper case"),
        ("4H", 0, "must start with 'P'"),
        ("P", 1, "no components"),
        ("PT", 2, "'T' must be followed"),
        ("P1DT", 4, "'T' must be followed"),
        ("P4H", 2, "needs a 'T'"),
        ("PT2D", 3, "belongs before the 'T'"),
        ("PT1.5H30M", 2, "only the last component"),
        ("P1D2D", 4, "repeated or out of order"),
        ("PT5M1H", 5, "repeated or out of order"),
        ("PTH", 2, "expected a number"),
        ("P1X", 2, "expected a designator"),
        ("PT4", 3, "without a designator"),
        ("P1DTT1H", 4, "'T' appears twice"),
        ("-PT4H", 0, "must start with 'P'"),
        ("P0001-02-03", 1, "alternative format"),
    ],
)
def test_bad_durations_say_what_and_where(text, position, reason):
    with pytest.raises(Iso8601Error) as caught:
        parse_duration(text)
    assert caught.value.position == position
    assert reason in caught.value.reason
    assert repr(text) in str(caught.value)


def test_duration_refuses_years_and_months():
    for text in ("P1M", "P1Y", "P1Y2M"):
        with pytest.raises(Iso8601Error, match="no fixed length"):
            parse_duration(text)


def test_iso_duration_keeps_calendar_units():
    parsed = parse_iso_duration("P1Y2M3W4DT5H")
    assert (parsed.years, parsed.months, parsed.weeks, parsed.days) == (1, 2, Decimal(3), Decimal(4))
    assert parsed.time == timedelta(hours=5)
    assert parsed.has_calendar_units
    assert str(parsed) == "P1Y2M3W4DT5H"
    with pytest.raises(Iso8601Error, match="fraction"):
        parse_iso_duration("P1.5M")


def test_to_timedelta_with_working_days():
    parsed = parse_iso_duration("P1W2DT1H")
    assert parsed.to_timedelta(day=timedelta(hours=8), week=timedelta(hours=40)) == timedelta(hours=57)


def test_add_months_clamps_to_month_end():
    assert parse_iso_duration("P1M").add_to(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert parse_iso_duration("P1Y").add_to(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(
        2029, 2, 28, tzinfo=UTC
    )


def test_add_day_keeps_wall_clock_across_dst_but_hours_do_not():
    before = datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN)
    assert parse_iso_duration("P1D").add_to(before) == datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)
    assert parse_iso_duration("PT24H").add_to(before) == datetime(2026, 3, 29, 10, 0, tzinfo=BERLIN)


def test_add_to_requires_aware():
    with pytest.raises(ValueError, match="time zone"):
        IsoDuration(days=Decimal(1)).add_to(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T09:00:00Z", datetime(2026, 1, 1, 9, tzinfo=UTC)),
        ("2026-01-01T09:00Z", datetime(2026, 1, 1, 9, tzinfo=UTC)),
        ("2026-01-01T09:00:00+08:00", datetime(2026, 1, 1, 1, tzinfo=UTC)),
        ("2026-01-01T09:00:00+0800", datetime(2026, 1, 1, 1, tzinfo=UTC)),
        ("2026-01-01T09:00:00-05", datetime(2026, 1, 1, 14, tzinfo=UTC)),
        ("2026-01-01T09:00:00.250Z", datetime(2026, 1, 1, 9, 0, 0, 250000, tzinfo=UTC)),
        ("2026-01-01T09:00:00.123456789Z", datetime(2026, 1, 1, 9, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-31T24:00:00Z", datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_datetime(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_parse_datetime_keeps_given_offset():
    assert parse_datetime("2026-01-01T09:00+08:00").utcoffset() == timedelta(hours=8)


def test_parse_datetime_default_zone():
    parsed = parse_datetime("2026-07-01T09:00", default_zone=BERLIN)
    assert parsed == datetime(2026, 7, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("2026-01-01", 10, "time of day is required"),
        ("2026-01-01 09:00Z", 10, "separated by 'T'"),
        ("2026-01-01T09:00", 16, "offset is required"),
        ("2026-01-01T09:00z", 16, "upper case 'Z'"),
        ("2026-1-01T09:00Z", 5, "2 digits for the month"),
        ("26-01-01T09:00Z", 0, "4 digits for the year"),
        ("2026-02-30T09:00Z", 0, "day is out of range"),
        ("2026-01-01T25:00Z", 11, "hour must be in"),
        ("2026-01-01T09:00+24:00", 16, "offset out of range"),
        ("2026-01-01T09:00:00.Z", 20, "1 to 9 digits"),
        ("2026-01-01T09:00Z junk", 17, "unexpected"),
    ],
)
def test_bad_datetimes_say_what_and_where(text, position, reason):
    with pytest.raises(Iso8601Error) as caught:
        parse_datetime(text)
    assert caught.value.position == position
    assert reason in caught.value.reason


def test_parse_cycle_forms():
    assert parse_cycle("R3/PT10M") == (3, None, parse_iso_duration("PT10M"))
    repetitions, start, duration = parse_cycle("R/2026-01-01T00:00:00Z/P1D")
    assert repetitions is None
    assert start == datetime(2026, 1, 1, tzinfo=UTC)
    assert duration.days == 1
    between = parse_cycle("R2/2026-01-01T00:00:00Z/2026-01-01T06:00:00Z")
    assert between.duration.to_timedelta() == timedelta(hours=6)


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("PT10M", 0, "must start with 'R'"),
        ("R3PT10M", 7, "expected '/'"),
        ("Rx/PT1M", 1, "digits"),
        ("R0/PT1M", 1, "never fire"),
        ("R/PT0S", 2, "longer than zero"),
        ("R/PT1X", 5, "duration: expected a designator"),
        ("R/2026-01-01T00:00/PT1H", 18, "date-time: a time zone offset is required"),
        ("R/P1D/2026-01-01T00:00Z", 2, "not supported"),
        ("R/2026-01-02T00:00Z/2026-01-01T00:00Z", 20, "end must be after"),
        ("R/a/b/c", 5, "too many"),
    ],
)
def test_bad_cycles_say_what_and_where(text, position, reason):
    with pytest.raises(Iso8601Error) as caught:
        parse_cycle(text)
    assert caught.value.position == position
    assert reason in caught.value.reason


def test_cycle_fire_times_with_and_without_start():
    anchor = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert list(parse_cycle("R3/PT10M").fire_times(anchor)) == [
        anchor + timedelta(minutes=10 * n) for n in (1, 2, 3)
    ]
    monthly = parse_cycle("R/2026-01-31T09:00:00Z/P1M")
    assert [t.date().isoformat() for t in islice(monthly.fire_times(anchor), 3)] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
    ]


def test_cycle_next_after():
    cycle = parse_cycle("R5/2026-01-01T00:00:00Z/PT1H")
    anchor = datetime(2025, 1, 1, tzinfo=UTC)
    assert cycle.next_after(datetime(2025, 12, 1, tzinfo=UTC), anchor) == datetime(2026, 1, 1, tzinfo=UTC)
    assert cycle.next_after(datetime(2026, 1, 1, 2, 30, tzinfo=UTC), anchor) == datetime(
        2026, 1, 1, 3, tzinfo=UTC
    )
    assert cycle.next_after(datetime(2026, 1, 1, 4, 0, tzinfo=UTC), anchor) is None
    forever = parse_cycle("R/PT10M")
    far = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert forever.next_after(far, anchor) == datetime(2027, 1, 1, 0, 10, tzinfo=UTC)


def test_fixed_offset_zone_is_a_timezone():
    assert isinstance(parse_datetime("2026-01-01T09:00+05:30").tzinfo, timezone)
