"""Pricing a repair at the fee standard (handlers/costing.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from handlers.costing import price
from handlers.records import FeeStandard
from handlers.stock import OrderPart
from handlers.variables import CaseDataError

D = Decimal
STANDARD = FeeStandard(
    code="FS-2026",
    name="Rates 2026",
    labour_rate=D("130.00"),
    call_out_fee=D("90.00"),
    parts_markup_percent=D("15.00"),
    valid_from=date(2026, 1, 1),
)


def test_parts_with_markup_labour_and_call_out_add_up() -> None:
    parts = [
        OrderPart("P-WM-PUMP", "Drain pump", 1, D("120.00")),
        OrderPart("P-GEN-FUSE", "Fuse set", 3, D("8.50")),
    ]
    cost = price(parts, D("1.75"), STANDARD)
    # 120.00 x 1.15 = 138.00; 8.50 x 1.15 = 9.775 → 9.78 a unit, x 3 = 29.34.
    assert cost.parts == D("167.34")
    assert cost.labour == D("227.50")  # 1.75 h x 130.00
    assert cost.call_out == D("90.00")
    assert cost.total == D("484.84")
    assert [line["amount"] for line in cost.lines] == ["138.00", "29.34", "227.50", "90.00"]


@pytest.mark.parametrize(
    ("pays", "charge"), [("nothing", "0.00"), ("parts", "167.34"), ("parts_and_labour", "484.84")]
)
def test_what_the_customer_pays_follows_the_coverage_decision(pays: str, charge: str) -> None:
    parts = [
        OrderPart("P-WM-PUMP", "Drain pump", 1, D("120.00")),
        OrderPart("P-GEN-FUSE", "Fuse set", 3, D("8.50")),
    ]
    assert price(parts, D("1.75"), STANDARD).customer_charge(pays) == D(charge)


def test_no_parts_is_labour_and_call_out_only_and_an_unknown_payer_is_an_error() -> None:
    cost = price([], D("0.5"), STANDARD)
    assert (cost.parts, cost.total) == (D("0"), D("155.00"))
    with pytest.raises(CaseDataError, match="customer_pays must be"):
        cost.customer_charge("the neighbour")
