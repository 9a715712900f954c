"""Customers: looking them up for a case, and their contact data for notifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.errors import BpmnErrorSignal
from engine.handler_registry import HandlerContext, HandlerRegistry

from . import variables as v
from .agreement_terms import service_level_on
from .dates import local_day
from .records import Customer

CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
DEFAULT_TIER = "C"


def find_customer(session: Session, customer_id: str | None) -> Customer | None:
    if not customer_id:
        return None
    return session.get(Customer, str(customer_id).strip())


def require_customer(session: Session, customer_id: str) -> Customer:
    """For steps after the look-up: the customer must exist (a missing one is a data error)."""
    customer = find_customer(session, customer_id)
    if customer is None:
        raise v.CaseDataError(f"No customer with id {customer_id!r}")
    return customer


def contact(customer: Customer) -> dict[str, Any]:
    """The customer variables a case carries (and the outbox reads)."""
    return {
        "customer_id": customer.id,
        "customer_name": customer.name,
        "customer_tier": customer.tier or DEFAULT_TIER,
        "customer_phone": customer.phone,
        "customer_email": customer.email,
        "customer_address": customer.address,
    }


def contact_for(ctx: HandlerContext) -> dict[str, Any]:
    """Contact data for notifying the case's customer: the case variables, else the record."""
    variables = ctx.variables
    if variables.get("customer_email") or variables.get("customer_phone"):
        return dict(variables)
    customer = find_customer(ctx.session, variables.get("customer_id"))
    return contact(customer) if customer is not None else dict(variables)


def lookup_customer(ctx: HandlerContext) -> dict[str, Any]:
    """Load the customer record into the case; CUSTOMER_NOT_FOUND sends the form back."""
    customer_id = v.text(ctx.variables, "customer_id")
    customer = find_customer(ctx.session, customer_id)
    if customer is None:
        raise BpmnErrorSignal(
            CUSTOMER_NOT_FOUND,
            f"No customer with id {customer_id!r}; check the id and enter it again",
            {"customer_lookup_error": f"No customer with id {customer_id!r}"},
        )
    return {
        **contact(customer),
        "customer_service_level": service_level_on(ctx.session, customer.id, local_day(ctx.now)),
        "account_owner": customer.account_owner,
        "customer_lookup_error": None,
    }


def register(registry: HandlerRegistry) -> None:
    registry.register("lookup_customer", lookup_customer)
