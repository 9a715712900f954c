"""Small rules inside the handlers: reading case variables, callback outcomes, follow-up complaints."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from handlers import variables as v
from handlers.callbacks import case_summary, outcome_of
from handlers.complaints import complaint_category_for
from handlers.dates import end_of, local_day, midnight, stamp


def test_variables_are_read_typed_and_a_missing_one_names_itself() -> None:
    data = {
        "order_no": "RO-1",
        "hours": "1.50",
        "n": 3,
        "flag": "yes",
        "day": "2026-02-01",
        "at": "2026-01-06T10:00:00+08:00",
        "parts": ["P-1", " ", "P-2 "],
        "empty": "",
    }
    assert v.text(data, "order_no") == "RO-1"
    assert v.number(data, "hours") == Decimal("1.50")
    assert v.integer(data, "n") == 3 and v.integer(data, "missing", default=0) == 0
    assert v.flag(data, "flag") is True and v.flag(data, "missing") is False
    assert v.day(data, "day") == date(2026, 2, 1)
    assert v.moment(data, "at").utcoffset() == timedelta(hours=8)
    assert v.string_list(data, "parts") == ["P-1", "P-2"]
    assert v.optional_text(data, "empty") is None and v.optional_moment(data, "empty") is None
    with pytest.raises(v.CaseDataError, match="Variable 'technician_id' is missing"):
        v.text(data, "technician_id")
    with pytest.raises(v.CaseDataError, match="must be a whole number"):
        v.integer(data, "hours")
    with pytest.raises(v.CaseDataError, match="must carry a UTC offset"):
        v.moment({"at": "2026-01-06T10:00:00"}, "at")
    with pytest.raises(v.CaseDataError, match="must be a number"):
        v.number({"x": True}, "x")
    assert v.money(Decimal("138")) == 138.0


@pytest.mark.parametrize(
    ("reached", "solved", "satisfaction", "outcome"),
    [
        (False, None, None, "unreachable"),
        (True, "yes", 5, "satisfied"),
        (True, "partly", 3, "satisfied"),
        (True, "yes", 2, "dissatisfied"),
        (True, "no", 5, "dissatisfied"),
    ],
)
def test_callback_outcome(reached: bool, solved: str | None, satisfaction: int | None, outcome: str) -> None:
    assert outcome_of(reached, solved, satisfaction) == outcome


def test_case_summary_and_follow_up_category() -> None:
    assert (
        case_summary(
            {"case_type": "complaint", "case_id": "CMP-1", "category": "billing", "resolution": "Credited"}
        )
        == "Complaint CMP-1 (billing): Credited"
    )
    assert case_summary({"case_type": "repair", "case_id": "RO-1"}) == "Repair RO-1 of the product: repaired"
    assert (complaint_category_for("repair"), complaint_category_for("complaint")) == (
        "repair_quality",
        "other",
    )


def test_company_days_are_shanghai_days() -> None:
    late_utc = datetime.fromisoformat("2026-01-31T16:30:00+00:00")
    assert local_day(late_utc) == date(2026, 2, 1)
    assert midnight(date(2026, 2, 1)).isoformat() == "2026-02-01T00:00:00+08:00"
    assert end_of(date(2026, 12, 31)).isoformat() == "2027-01-01T00:00:00+08:00"
    assert stamp(late_utc) == "2026-02-01T00:30:00+08:00"
