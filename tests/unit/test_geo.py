"""Great-circle distances and locating free-text service addresses (handlers/geo.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from handlers.geo import Point, great_circle_km, locate
from handlers.records import Customer, Place

BEIJING = Point(39.9042, 116.4074)
SHANGHAI = Point(31.2304, 121.4737)


def test_great_circle_distance_matches_known_city_distances() -> None:
    # Beijing to Shanghai is about 1,067 km as the crow flies.
    assert great_circle_km(BEIJING, SHANGHAI) == pytest.approx(1067, abs=5)
    assert great_circle_km(SHANGHAI, BEIJING) == pytest.approx(great_circle_km(BEIJING, SHANGHAI))
    assert great_circle_km(BEIJING, BEIJING) == 0
    # A quarter of the equator, and antipodes (half the circumference) without a domain error.
    assert great_circle_km(Point(0, 0), Point(0, 90)) == pytest.approx(10007.5, abs=1)
    assert great_circle_km(Point(0, 0), Point(0, 180)) == pytest.approx(20015.1, abs=1)


class FakeSession:
    """Just what ``locate`` asks of a session: the known places."""

    def __init__(self, places: list[Place]) -> None:
        self.places = places

    def execute(self, _query: Any) -> Any:
        class Result:
            def __init__(self, rows: list[Place]) -> None:
                self.rows = rows

            def all(self) -> list[tuple[str, float, float]]:
                return [(p.name, p.latitude, p.longitude) for p in self.rows]

        return Result(self.places)


PLACES = [
    Place(name="Shanghai", latitude=31.2304, longitude=121.4737),
    Place(name="Pudong", latitude=31.2215, longitude=121.5440),
    Place(name="Xuhui", latitude=31.1885, longitude=121.4365),
]
CUSTOMER = Customer(
    id="C1",
    name="Li Wei",
    address="Flat 1801, 66 Tianyaoqiao Road, Xuhui, Shanghai",
    latitude=31.1880,
    longitude=121.4370,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


def test_the_customers_own_address_uses_their_coordinates() -> None:
    session: Any = FakeSession(PLACES)
    assert locate(session, "flat 1801 66 Tianyaoqiao Road Xuhui Shanghai", CUSTOMER) == Point(
        31.1880, 121.4370
    )
    assert locate(session, None, CUSTOMER) == Point(31.1880, 121.4370)


def test_another_address_is_placed_by_the_most_specific_known_place() -> None:
    session: Any = FakeSession(PLACES)
    assert locate(session, "Century Avenue 100, Pudong, Shanghai", CUSTOMER) == Point(31.2215, 121.5440)
    assert locate(session, "Somewhere in shanghai", None) == Point(31.2304, 121.4737)
    # "Pudongxin" is not "Pudong": whole words only.
    assert locate(session, "Pudongxin Road 5", None) is None


def test_an_unknown_address_falls_back_to_the_customer_or_nothing() -> None:
    session: Any = FakeSession(PLACES)
    assert locate(session, "Unit 3, Harbour Road, Qingdao", CUSTOMER) == Point(31.1880, 121.4370)
    assert locate(session, "Unit 3, Harbour Road, Qingdao", None) is None
