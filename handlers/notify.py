"""Notifications through an outbox (§13, §14): handlers write rows; a delivery adapter sends them.

Writing the message in the same transaction as the step means a customer is told exactly when
the step happened, never about a step that was rolled back. Delivery happens afterwards,
through an adapter: the default one only records that the message was due (a demo or a test
needs no mail server); ``SmtpDelivery`` sends e-mail. Staff messages go to an in-application
inbox (channel ``inbox``), which the adapter marks as recorded.
"""

from __future__ import annotations

import json
import os
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from engine.db import Database
from engine.handler_registry import HandlerContext

from .records import OutboxMessage

PENDING = "pending"
SENT = "sent"
RECORDED = "recorded"
FAILED = "failed"
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Case:
    """The case a notification is about, quoted in it and used to find it again."""

    case_type: str | None
    case_id: str | None
    instance_id: str | None = None


def case_of(ctx: HandlerContext, case_type: str | None = None, case_id: str | None = None) -> Case:
    variables = ctx.variables
    return Case(
        case_type or variables.get("case_type"),
        case_id or variables.get("case_id") or ctx.business_key,
        ctx.instance_id,
    )


def _queue(session: Session, now: datetime, case: Case, **fields: Any) -> OutboxMessage:
    message = OutboxMessage(
        created_at=now,
        case_type=case.case_type,
        case_id=case.case_id,
        instance_id=case.instance_id,
        attempts=0,
        **fields,
    )
    session.add(message)
    return message


def to_customer(
    ctx: HandlerContext,
    contact: Mapping[str, Any],
    topic: str,
    subject: str,
    body: str,
    case: Case | None = None,
) -> OutboxMessage:
    """Tell a customer, by e-mail when there is an address, else by SMS to the phone on record.

    ``contact`` holds ``customer_id`` and ``customer_email`` / ``customer_phone`` (the case
    variables ``lookup_customer`` sets, or the same keys built from the customer record).
    """
    email = contact.get("customer_email")
    phone = contact.get("customer_phone")
    channel, address = ("email", email) if email else ("sms", phone) if phone else ("none", None)
    message = _queue(
        ctx.session,
        ctx.now,
        case or case_of(ctx),
        recipient_kind="customer",
        recipient=str(contact.get("customer_id") or "unknown"),
        channel=channel,
        address=address,
        topic=topic,
        subject=subject,
        body=body,
        status=PENDING if address else FAILED,
    )
    if not address:
        # Kept (and visible to staff) rather than dropped: somebody has to phone or write.
        message.last_error = "The customer has neither an e-mail address nor a phone number on record"
    return message


def to_user(
    ctx: HandlerContext, user: str, topic: str, subject: str, body: str, case: Case | None = None
) -> None:
    _queue(
        ctx.session,
        ctx.now,
        case or case_of(ctx),
        recipient_kind="user",
        recipient=user,
        channel="inbox",
        address=user,
        topic=topic,
        subject=subject,
        body=body,
        status=PENDING,
    )


def to_role(
    ctx: HandlerContext, role: str, topic: str, subject: str, body: str, case: Case | None = None
) -> None:
    _queue(
        ctx.session,
        ctx.now,
        case or case_of(ctx),
        recipient_kind="role",
        recipient=role,
        channel="inbox",
        address=role,
        topic=topic,
        subject=subject,
        body=body,
        status=PENDING,
    )


def to_user_or_role(
    ctx: HandlerContext,
    user: str | None,
    role: str,
    topic: str,
    subject: str,
    body: str,
    case: Case | None = None,
) -> None:
    if user:
        to_user(ctx, user, topic, subject, body, case)
    else:
        to_role(ctx, role, topic, subject, body, case)


def copy_engine_notification(conn: Connection, note: Mapping[str, Any]) -> None:
    """A hook for the engine's own notifications (SLA reminders, alarms): they join this outbox in
    the same transaction, so one delivery path sends everything staff are told."""
    facts = json.loads(note["body"]) if isinstance(note.get("body"), str) else dict(note.get("body") or {})
    lines = [note["subject"]]
    if facts.get("business_key") or facts.get("process_key"):
        lines.append(f"Case {facts.get('business_key') or '-'} ({facts.get('process_key')}).")
    if facts.get("deadline_at"):
        lines.append(f"Deadline: {facts['deadline_at']}.")
    conn.execute(
        insert(OutboxMessage).values(
            created_at=note["created_at"],
            recipient_kind=note["recipient_kind"],
            recipient=note["recipient"],
            channel="inbox",
            address=note["recipient"],
            topic=note["kind"],
            subject=note["subject"][:300],
            body="\n".join(lines),
            case_type=facts.get("process_key"),
            case_id=facts.get("business_key"),
            instance_id=note.get("instance_id"),
            status=PENDING,
            attempts=0,
        )
    )


# --------------------------------------------------------------------------- delivery


class DeliveryAdapter(Protocol):
    def deliver(self, message: OutboxMessage) -> str:
        """Send ``message``; return ``sent`` or ``recorded``; raise to have it retried later."""


class RecordOnly:
    """The default: the outbox row is the record; nothing leaves the system."""

    def deliver(self, message: OutboxMessage) -> str:
        return RECORDED


@dataclass
class SmtpDelivery:
    """Sends e-mail through an SMTP server; other channels are only recorded."""

    host: str
    port: int = 587
    sender: str = "service@example.com"
    user: str | None = None
    password: str | None = None
    starttls: bool = True

    def deliver(self, message: OutboxMessage) -> str:
        if message.channel != "email" or not message.address:
            return RECORDED
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mail)
        return SENT


def adapter_from_environment(environ: Mapping[str, str] | None = None) -> DeliveryAdapter:
    """``CRM_SMTP_HOST`` (with ``_PORT``, ``_USER``, ``_PASSWORD``, ``_SENDER``) selects e-mail delivery."""
    env = os.environ if environ is None else environ
    host = env.get("CRM_SMTP_HOST")
    if not host:
        return RecordOnly()
    return SmtpDelivery(
        host=host,
        port=int(env.get("CRM_SMTP_PORT", "587")),
        sender=env.get("CRM_SMTP_SENDER", "service@example.com"),
        user=env.get("CRM_SMTP_USER") or None,
        password=env.get("CRM_SMTP_PASSWORD") or None,
        starttls=env.get("CRM_SMTP_STARTTLS", "true").lower() != "false",
    )


@dataclass
class DeliveryReport:
    delivered: int = 0
    retry_later: int = 0
    failed: int = 0


def deliver_pending(
    session: Session, adapter: DeliveryAdapter, now: datetime, limit: int = 100
) -> DeliveryReport:
    """Hand pending messages to ``adapter``; the caller commits. Several workers may run at once."""
    query = (
        select(OutboxMessage).where(OutboxMessage.status == PENDING).order_by(OutboxMessage.id).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    report = DeliveryReport()
    for message in session.scalars(query):
        message.attempts += 1
        try:
            message.status = adapter.deliver(message)
        except Exception as exc:  # any transport error: keep the message, try again later
            message.last_error = f"{exc.__class__.__name__}: {exc}"
            if message.attempts >= MAX_ATTEMPTS:
                message.status = FAILED
                report.failed += 1
            else:
                report.retry_later += 1
            continue
        message.sent_at = now
        message.last_error = None
        report.delivered += 1
    return report


def deliver(db: Database, adapter: DeliveryAdapter, now: datetime, limit: int = 100) -> DeliveryReport:
    """One delivery round in its own transaction (what the operator command runs)."""
    with db.transaction() as conn:
        session = Session(bind=conn)
        try:
            report = deliver_pending(session, adapter, now, limit)
            session.flush()
        finally:
            session.close()
    return report
