"""What a service agreement covers, and the timer moments of its term (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from handlers.agreement_terms import Terms, covers
from handlers.agreements import schedule
from handlers.records import Agreement, AgreementVersion, ProductModel

WASHER = ProductModel(code="WM-700", name="Front-load washing machine WM-700", skill="laundry")


def terms(covered: str) -> Terms:
    agreement = Agreement(
        agreement_no="AGR-1",
        customer_id="C1",
        title="t",
        status="active",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
        renewal_notice_days=30,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    version = AgreementVersion(
        agreement_no="AGR-1",
        version=1,
        service_level="standard",
        annual_fee=Decimal(1),
        covered_products=covered,
        coverage_terms="",
        effective_from=date(2026, 1, 1),
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return Terms(agreement, version)


@pytest.mark.parametrize(
    ("covered", "expected"),
    [
        ("all", True),
        ("WM-700", True),
        ("Washing machines: WM-700, WM-900", True),
        ("wm7-2023-004471", True),  # the serial number, in any case
        ("AC-3500\nRF-450", False),
        ("Dishwashers", False),
    ],
)
def test_covered_products_name_the_unit_its_model_or_everything(covered: str, expected: bool) -> None:
    assert covers(terms(covered), WASHER, "WM7-2023-004471", "Front-load washing machine WM-700") is expected


def test_an_unknown_model_is_covered_only_by_name_or_serial() -> None:
    assert covers(terms("Coffee machine CM-1"), None, "X-1", "Coffee machine CM-1 in the lobby") is True
    assert covers(terms("WM-700"), None, "X-1", "Coffee machine") is False


def test_the_term_starts_and_ends_at_local_midnight_and_the_reminder_comes_before_the_end() -> None:
    moments = schedule(date(2026, 2, 1), date(2027, 1, 31), 30)
    assert moments == {
        "activation_at": "2026-02-01T00:00:00+08:00",
        "expiry_at": "2027-02-01T00:00:00+08:00",
        "renewal_reminder_at": "2027-01-02T00:00:00+08:00",
    }
    # A notice longer than the term reminds at the start, never before it.
    assert (
        schedule(date(2026, 2, 1), date(2026, 2, 10), 60)["renewal_reminder_at"]
        == "2026-02-01T00:00:00+08:00"
    )
