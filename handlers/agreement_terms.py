"""Which service agreement is in force for a customer on a day, and what it covers (§10).

An agreement is in force from its start date to its end date inclusive once activated, until
the day a termination takes effect. Its terms on a day are those of the latest version that
had become effective by then, so an amendment changes the service level from its effective
date, not from the moment it was approved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .records import Agreement, AgreementVersion, ProductModel

NO_AGREEMENT = "none"
# Statuses of agreements that were activated: each was in force during its term (a terminated
# one until its termination date), which is what a question about a past day needs.
_IN_FORCE_STATUSES = ("active", "terminated", "expired")
# Words in "covered products" that mean the whole installed base of the customer.
_EVERYTHING = {"all", "all products", "*", "everything"}


@dataclass(frozen=True)
class Terms:
    agreement: Agreement
    version: AgreementVersion

    @property
    def service_level(self) -> str:
        return self.version.service_level


def _terms_on(session: Session, agreement: Agreement, day: date) -> Terms | None:
    version = session.scalars(
        select(AgreementVersion)
        .where(
            AgreementVersion.agreement_no == agreement.agreement_no, AgreementVersion.effective_from <= day
        )
        .order_by(AgreementVersion.version.desc())
        .limit(1)
    ).first()
    return Terms(agreement, version) if version is not None else None


def in_force(session: Session, customer_id: str, day: date) -> list[Terms]:
    """Every agreement of the customer in force on ``day`` (normally one), newest first."""
    agreements = session.scalars(
        select(Agreement)
        .where(
            Agreement.customer_id == customer_id,
            Agreement.status.in_(_IN_FORCE_STATUSES),
            Agreement.start_date <= day,
            Agreement.end_date >= day,
            or_(Agreement.terminated_on.is_(None), Agreement.terminated_on > day),
        )
        .order_by(Agreement.start_date.desc())
    ).all()
    found = (_terms_on(session, a, day) for a in agreements)
    return [t for t in found if t is not None]


def service_level_on(session: Session, customer_id: str, day: date) -> str:
    terms = in_force(session, customer_id, day)
    return terms[0].service_level if terms else NO_AGREEMENT


def _items(covered_products: str) -> list[str]:
    return [item.strip().casefold() for item in re.split(r"[\n,;]+", covered_products) if item.strip()]


def covers(
    terms: Terms, model: ProductModel | None, serial_number: str | None, product_text: str | None
) -> bool:
    """Does the agreement's list of covered products name this unit (serial), its model or "all"?"""
    names = {n.casefold() for n in (serial_number, product_text) if n}
    if model is not None:
        names |= {model.code.casefold(), model.name.casefold()}
    text = (product_text or "").casefold()
    for item in _items(terms.version.covered_products):
        if item in _EVERYTHING or item in names:
            return True
        if model is not None and model.code.casefold() in item:
            return True
        if len(item) >= 4 and item in text:
            return True
    return False


def covering(
    session: Session,
    customer_id: str,
    day: date,
    model: ProductModel | None,
    serial_number: str | None,
    product_text: str | None,
) -> Terms | None:
    for terms in in_force(session, customer_id, day):
        if covers(terms, model, serial_number, product_text):
            return terms
    return None
