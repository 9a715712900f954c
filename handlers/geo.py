"""Where a service address is, and how far it is from a technician (§4.3 "nearest first").

Distances are great-circle distances (haversine on a spherical Earth, mean radius): within a
few tenths of a percent of the road-free truth, which is all a nearest-first proposal needs;
the dispatcher corrects for roads and traffic. Addresses are free text, so they are located
from what the records know: the customer's own address and coordinates, else the most specific
known place (district, city) named in the text, else the customer's coordinates.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from .records import Customer, Place

EARTH_RADIUS_KM = 6371.0088


class Point(NamedTuple):
    latitude: float
    longitude: float


def great_circle_km(a: Point, b: Point) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    # min() guards against rounding pushing h a hair above 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _normal(text: str) -> str:
    return re.sub(r"[\s,.;]+", " ", text).strip().casefold()


def _customer_point(customer: Customer | None) -> Point | None:
    if customer is None or customer.latitude is None or customer.longitude is None:
        return None
    return Point(customer.latitude, customer.longitude)


def locate(session: Session, address: str | None, customer: Customer | None) -> Point | None:
    """The coordinates of a service address, or None when nothing in the records places it."""
    own = _customer_point(customer)
    wanted = _normal(address or "")
    if own is not None and customer is not None and (not wanted or wanted == _normal(customer.address)):
        return own
    if wanted:
        # Addresses name the most specific place first ("…, Pudong, Shanghai"): the earliest wins.
        found: list[tuple[int, int, Point]] = []
        for name, lat, lon in session.execute(select(Place.name, Place.latitude, Place.longitude)).all():
            match = re.search(rf"(?<!\w){re.escape(_normal(name))}(?!\w)", wanted) if _normal(name) else None
            if match:
                found.append((match.start(), -len(name), Point(lat, lon)))
        if found:
            return min(found)[2]
    return own
