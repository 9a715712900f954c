"""Service agreements (§10): drafting, signing, activation, amendments as versions, renewal
reminders, termination and expiry.

The agreement row holds the term and the lifecycle; the terms (service level, fee, covered
products) are versions: version 1 is drafted, revised and then signed, each approved
amendment adds one. The timers of service_agreement.bpmn read the ISO 8601 date-times this
module computes (``activation_at``, ``renewal_reminder_at``, ``expiry_at``), at midnight in the
company's time zone.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from engine.errors import BpmnErrorSignal
from engine.handler_registry import HandlerContext, HandlerRegistry

from . import notify
from . import variables as v
from .customers import contact_for, require_customer
from .dates import end_of, midnight, stamp
from .numbering import AGREEMENT, next_number
from .records import Agreement, AgreementVersion

INVALID_AGREEMENT = "INVALID_AGREEMENT"
# Agreements that hold, will hold or held the customer's term; a new one may not overlap them.
# A terminated one stays in force until its termination takes effect (`terminated_on`), so only
# the days before that count; an expired one held its whole term (a new one may not be backdated
# into it, or two agreements would set the service level of the same days).
_BINDING_STATUSES = ("signed", "active", "terminated", "expired")


def _agreement(ctx: HandlerContext) -> Agreement:
    number = v.text(ctx.variables, "agreement_no")
    found = ctx.session.get(Agreement, number)
    if found is None:
        raise v.CaseDataError(f"No agreement {number!r}")
    return found


def _version(ctx: HandlerContext, agreement: Agreement, version: int | None = None) -> AgreementVersion:
    number = version or _latest_version(ctx, agreement.agreement_no)
    found = ctx.session.get(AgreementVersion, (agreement.agreement_no, number))
    if found is None:
        raise v.CaseDataError(f"Agreement {agreement.agreement_no} has no version {number}")
    return found


def _latest_version(ctx: HandlerContext, agreement_no: str) -> int:
    latest = ctx.session.scalar(
        select(func.max(AgreementVersion.version)).where(AgreementVersion.agreement_no == agreement_no)
    )
    return int(latest or 0)


def _case(ctx: HandlerContext, agreement_no: str) -> notify.Case:
    return notify.Case("agreement", agreement_no, ctx.instance_id)


def _owner(ctx: HandlerContext, agreement: Agreement | None = None) -> str | None:
    if agreement is not None and agreement.account_owner:
        return agreement.account_owner
    return v.optional_text(ctx.variables, "account_owner")


def schedule(start: date, end: date, notice_days: int) -> dict[str, str]:
    """The timer moments of an agreement's term."""
    activation = midnight(start)
    expiry = end_of(end)
    reminder = max(expiry - timedelta(days=notice_days), activation)
    return {
        "activation_at": activation.isoformat(),
        "expiry_at": expiry.isoformat(),
        "renewal_reminder_at": reminder.isoformat(),
    }


def _overlapping(
    ctx: HandlerContext, customer_id: str, start: date, end: date, own: str | None
) -> Agreement | None:
    query = select(Agreement).where(
        Agreement.customer_id == customer_id,
        Agreement.status.in_(_BINDING_STATUSES),
        Agreement.start_date <= end,
        Agreement.end_date >= start,
        # Terminated on or before its first day, it never held a day (nor any day from `start`).
        or_(
            Agreement.terminated_on.is_(None),
            and_(Agreement.terminated_on > start, Agreement.terminated_on > Agreement.start_date),
        ),
    )
    if own:
        query = query.where(Agreement.agreement_no != own)
    return ctx.session.scalars(query.limit(1)).first()


def _last_day_in_force(agreement: Agreement) -> date:
    if agreement.terminated_on is not None:
        return min(agreement.end_date, agreement.terminated_on - timedelta(days=1))
    return agreement.end_date


def _refuse(message: str) -> BpmnErrorSignal:
    return BpmnErrorSignal(INVALID_AGREEMENT, message, {"agreement_error": message})


def register_agreement_draft(ctx: HandlerContext) -> dict[str, Any]:
    """Check and store the draft as version 1; INVALID_AGREEMENT sends it back with the reason."""
    variables = ctx.variables
    customer = require_customer(ctx.session, v.text(variables, "customer_id"))
    start = v.day(variables, "agreement_start_date")
    end = v.day(variables, "agreement_end_date")
    notice = v.integer(variables, "renewal_notice_days")
    number = v.optional_text(variables, "agreement_no")
    if end <= start:
        raise _refuse(f"The end date {end} must be after the start date {start}")
    clash = _overlapping(ctx, customer.id, start, end, number)
    if clash is not None:
        last = _last_day_in_force(clash)
        raise _refuse(
            f"{customer.name} already has agreement {clash.agreement_no} ({clash.status}) "
            f"in force from {clash.start_date} to {last}, which overlaps {start} to {end}; "
            f"start the new one after {last}"
        )
    agreement = ctx.session.get(Agreement, number) if number else None
    if agreement is None:
        agreement = Agreement(
            agreement_no=next_number(ctx.session, AGREEMENT, ctx.now),
            customer_id=customer.id,
            instance_id=ctx.instance_id,
            created_at=ctx.now,
            # The customer's account manager owns it; without one, whoever drafted it.
            account_owner=customer.account_owner or ctx.actor,
        )
        ctx.session.add(agreement)
    agreement.customer_id = customer.id
    agreement.title = v.text(variables, "agreement_title")
    agreement.status = "draft"
    agreement.start_date = start
    agreement.end_date = end
    agreement.renewal_notice_days = notice
    terms = ctx.session.get(AgreementVersion, (agreement.agreement_no, 1))
    if terms is None:
        terms = AgreementVersion(agreement_no=agreement.agreement_no, version=1)
        ctx.session.add(terms)
    terms.service_level = v.text(variables, "service_level")
    terms.annual_fee = v.number(variables, "annual_fee")
    terms.covered_products = v.text(variables, "covered_products")
    terms.coverage_terms = v.text(variables, "coverage_terms")
    terms.effective_from = start
    terms.summary = "Initial terms"
    terms.recorded_at = ctx.now
    return {
        "agreement_no": agreement.agreement_no,
        "agreement_version": 1,
        "agreement_status": "draft",
        "account_owner": agreement.account_owner,
        "agreement_error": None,
        **schedule(start, end, notice),
    }


def notify_agreement_rejected(ctx: HandlerContext) -> dict[str, Any]:
    agreement = _agreement(ctx)
    agreement.status = "rejected"
    agreement.status_note = v.optional_text(ctx.variables, "approval_comment")
    agreement.ended_at = ctx.now
    notify.to_user_or_role(
        ctx,
        _owner(ctx, agreement),
        "account_manager",
        "agreement_rejected",
        f"Agreement {agreement.agreement_no} rejected",
        f"The service manager rejected the draft {agreement.agreement_no} ({agreement.title}): "
        f"{agreement.status_note or 'no reason given'}",
        _case(ctx, agreement.agreement_no),
    )
    return {"agreement_status": "rejected"}


def record_agreement_declined(ctx: HandlerContext) -> dict[str, Any]:
    agreement = _agreement(ctx)
    agreement.status = "declined"
    agreement.status_note = v.optional_text(ctx.variables, "decline_reason")
    agreement.ended_at = ctx.now
    return {"agreement_status": "declined"}


def record_agreement_signed(ctx: HandlerContext) -> dict[str, Any]:
    """Both parties signed: version 1 becomes the signed text."""
    variables = ctx.variables
    agreement = _agreement(ctx)
    clash = _overlapping(
        ctx, agreement.customer_id, agreement.start_date, agreement.end_date, agreement.agreement_no
    )
    if clash is not None:
        # Another agreement was signed for the same term while this one waited for signatures.
        raise v.CaseDataError(
            f"Agreement {clash.agreement_no} was signed for an overlapping term meanwhile; "
            f"terminate one of them before signing {agreement.agreement_no}"
        )
    agreement.status = "signed"
    agreement.signed_at = ctx.now
    terms = _version(ctx, agreement, 1)
    terms.signatory = v.text(variables, "customer_signatory")
    terms.document_ref = v.text(variables, "signed_document_ref")
    terms.recorded_at = ctx.now
    return {"agreement_status": "signed", "signed_at": stamp(ctx.now)}


def activate_agreement(ctx: HandlerContext) -> dict[str, Any]:
    """The start date has come: the agreement (and with it the customer's service level) is in force."""
    agreement = _agreement(ctx)
    agreement.status = "active"
    agreement.activated_at = ctx.now
    level = _version(ctx, agreement).service_level
    case = _case(ctx, agreement.agreement_no)
    text = (
        f"Service agreement {agreement.agreement_no} ({agreement.title}) is in force "
        f"from {agreement.start_date} to {agreement.end_date}: service level {level}."
    )
    notify.to_customer(
        ctx,
        contact_for(ctx),
        "agreement_active",
        f"Your service agreement {agreement.agreement_no}",
        text,
        case,
    )
    notify.to_user_or_role(
        ctx,
        _owner(ctx, agreement),
        "account_manager",
        "agreement_active",
        f"Agreement {agreement.agreement_no} is active",
        text,
        case,
    )
    return {"agreement_status": "active", "activated_at": stamp(ctx.now)}


def record_agreement_version(ctx: HandlerContext) -> dict[str, Any]:
    """An approved amendment (§10.2): a new version of the terms, effective from its date."""
    variables = ctx.variables
    agreement = _agreement(ctx)
    number = _latest_version(ctx, agreement.agreement_no) + 1
    effective = max(v.day(variables, "amendment_effective_date"), agreement.start_date)
    terms = AgreementVersion(
        agreement_no=agreement.agreement_no,
        version=number,
        service_level=v.text(variables, "new_service_level"),
        annual_fee=v.number(variables, "new_annual_fee"),
        covered_products=v.text(variables, "new_covered_products"),
        coverage_terms=v.text(variables, "new_coverage_terms"),
        effective_from=effective,
        summary=v.text(variables, "amendment_summary"),
        recorded_at=ctx.now,
    )
    ctx.session.add(terms)
    notify.to_customer(
        ctx,
        contact_for(ctx),
        "agreement_amended",
        f"Your service agreement {agreement.agreement_no} was amended",
        f"From {effective} version {number} applies: service level {terms.service_level}, annual fee "
        f"{terms.annual_fee}. {terms.summary}",
        _case(ctx, agreement.agreement_no),
    )
    return {
        "agreement_version": number,
        "service_level": terms.service_level,
        "annual_fee": v.money(terms.annual_fee),
        "covered_products": terms.covered_products,
        "coverage_terms": terms.coverage_terms,
        "amended_at": stamp(ctx.now),
    }


def notify_amendment_rejected(ctx: HandlerContext) -> dict[str, Any]:
    agreement = _agreement(ctx)
    comment = v.optional_text(ctx.variables, "amendment_comment") or "no reason given"
    notify.to_user_or_role(
        ctx,
        _owner(ctx, agreement),
        "account_manager",
        "amendment_rejected",
        f"Amendment of agreement {agreement.agreement_no} rejected",
        f"The service manager rejected the amendment of {agreement.agreement_no}: {comment}",
        _case(ctx, agreement.agreement_no),
    )
    return {"last_amendment_rejected_at": stamp(ctx.now)}


def send_renewal_reminder(ctx: HandlerContext) -> dict[str, Any]:
    agreement = _agreement(ctx)
    customer = ctx.variables.get("customer_name") or agreement.customer_id
    notify.to_user_or_role(
        ctx,
        _owner(ctx, agreement),
        "account_manager",
        "renewal_reminder",
        f"Agreement {agreement.agreement_no} ends on {agreement.end_date}",
        f"The service agreement {agreement.agreement_no} with {customer} ends on {agreement.end_date}. "
        "Contact the customer about a renewal (a renewal is drafted as a new agreement).",
        _case(ctx, agreement.agreement_no),
    )
    return {"renewal_reminded_at": stamp(ctx.now)}


def _ended(ctx: HandlerContext, agreement: Agreement, status: str, text: str) -> None:
    agreement.status = status
    agreement.ended_at = ctx.now
    case = _case(ctx, agreement.agreement_no)
    subject = f"Service agreement {agreement.agreement_no} {status}"
    notify.to_customer(ctx, contact_for(ctx), f"agreement_{status}", subject, text, case)
    notify.to_user_or_role(
        ctx, _owner(ctx, agreement), "account_manager", f"agreement_{status}", subject, text, case
    )


def terminate_agreement(ctx: HandlerContext) -> dict[str, Any]:
    """Termination (§10.3): the service level ends on the termination date."""
    variables = ctx.variables
    agreement = _agreement(ctx)
    effective = v.day(variables, "termination_date")
    agreement.terminated_on = min(
        max(effective, agreement.start_date), agreement.end_date + timedelta(days=1)
    )
    agreement.termination_reason = (
        f"{v.text(variables, 'termination_requested_by')}: {v.text(variables, 'termination_reason')}"
    )
    settlement = v.optional_text(variables, "termination_settlement")
    _ended(
        ctx,
        agreement,
        "terminated",
        f"Agreement {agreement.agreement_no} ({agreement.title}) is terminated with effect from "
        f"{agreement.terminated_on}." + (f" Settlement: {settlement}" if settlement else ""),
    )
    return {"agreement_status": "terminated", "terminated_at": stamp(ctx.now)}


def expire_agreement(ctx: HandlerContext) -> dict[str, Any]:
    agreement = _agreement(ctx)
    _ended(
        ctx,
        agreement,
        "expired",
        f"Agreement {agreement.agreement_no} ({agreement.title}) ended on {agreement.end_date}.",
    )
    return {"agreement_status": "expired", "expired_at": stamp(ctx.now)}


def register(registry: HandlerRegistry) -> None:
    for name, function in (
        ("register_agreement_draft", register_agreement_draft),
        ("notify_agreement_rejected", notify_agreement_rejected),
        ("record_agreement_declined", record_agreement_declined),
        ("record_agreement_signed", record_agreement_signed),
        ("activate_agreement", activate_agreement),
        ("record_agreement_version", record_agreement_version),
        ("notify_amendment_rejected", notify_amendment_rejected),
        ("send_renewal_reminder", send_renewal_reminder),
        ("terminate_agreement", terminate_agreement),
        ("expire_agreement", expire_agreement),
    ):
        registry.register(name, function)
