"""The notification outbox: messages written with the step, delivered afterwards by an adapter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import Database
from engine.handler_registry import HandlerContext
from handlers import notify
from handlers.records import OutboxMessage

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def _context(session: Session) -> HandlerContext:
    return HandlerContext(
        variables={"case_type": "repair", "case_id": "RO-2026-00001"},
        instance_id="i-1",
        business_key="R-1",
        process_key="repair",
        element_id="Task_x",
        handler="x",
        actor="engine",
        now=NOW,
        session=session,
    )


def _queue_three(db: Database) -> None:
    with db.transaction() as conn:
        session = Session(bind=conn)
        ctx = _context(session)
        notify.to_customer(
            ctx, {"customer_id": "C1", "customer_email": "a@example.com"}, "t", "Subject", "Body"
        )
        notify.to_customer(ctx, {"customer_id": "C2", "customer_phone": "+86 139 0000 0000"}, "t", "S", "B")
        notify.to_role(ctx, "finance", "t", "S", "B")
        notify.to_customer(ctx, {"customer_id": "C3"}, "t", "S", "B")  # no way to reach them
        session.flush()
        session.close()


def _messages(db: Database) -> list[OutboxMessage]:
    with db.transaction(write=False) as conn:
        session = Session(bind=conn)
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def _deliver(db: Database, adapter: notify.DeliveryAdapter) -> notify.DeliveryReport:
    with db.transaction() as conn:
        session = Session(bind=conn)
        report = notify.deliver_pending(session, adapter, NOW)
        session.flush()
        session.close()
        return report


def test_messages_pick_their_channel_and_a_customer_without_contact_data_is_flagged(db: Database) -> None:
    _queue_three(db)
    rows = _messages(db)
    assert [(m.recipient, m.channel, m.address, m.status) for m in rows] == [
        ("C1", "email", "a@example.com", "pending"),
        ("C2", "sms", "+86 139 0000 0000", "pending"),
        ("finance", "inbox", "finance", "pending"),
        ("C3", "none", None, "failed"),
    ]
    assert "neither an e-mail address nor a phone number" in (rows[3].last_error or "")
    assert {(m.case_type, m.case_id, m.instance_id) for m in rows} == {("repair", "RO-2026-00001", "i-1")}


def test_the_default_adapter_records_and_a_failing_one_is_retried_then_given_up(db: Database) -> None:
    _queue_three(db)

    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def deliver(self, message: OutboxMessage) -> str:
            self.calls += 1
            if message.channel == "email":
                raise ConnectionRefusedError("mail server down")
            return notify.RECORDED

    flaky = Flaky()
    first = _deliver(db, flaky)
    assert (first.delivered, first.retry_later, first.failed) == (2, 1, 0)
    for _ in range(notify.MAX_ATTEMPTS - 1):
        _deliver(db, flaky)
    email = _messages(db)[0]
    assert (email.status, email.attempts) == ("failed", notify.MAX_ATTEMPTS)
    assert email.last_error == "ConnectionRefusedError: mail server down"
    assert flaky.calls == 2 + notify.MAX_ATTEMPTS  # delivered messages are not sent again
    assert _deliver(db, notify.RecordOnly()).delivered == 0


def test_smtp_delivery_sends_e_mail_and_only_records_the_rest(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []

    class FakeSMTP:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            assert (host, port) == ("mail.example.com", 2525)

        def __enter__(self) -> FakeSMTP:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def starttls(self) -> None:
            sent.append("starttls")

        def login(self, user: str, password: str) -> None:
            sent.append(("login", user, password))

        def send_message(self, mail: Any) -> None:
            sent.append((mail["To"], mail["Subject"], mail.get_content().strip()))

    monkeypatch.setattr(notify.smtplib, "SMTP", FakeSMTP)
    adapter = notify.adapter_from_environment(
        {
            "CRM_SMTP_HOST": "mail.example.com",
            "CRM_SMTP_PORT": "2525",
            "CRM_SMTP_USER": "crm",
            "CRM_SMTP_PASSWORD": "secret",
        }
    )
    assert isinstance(adapter, notify.SmtpDelivery)
    assert isinstance(notify.adapter_from_environment({}), notify.RecordOnly)
    _queue_three(db)
    report = _deliver(db, adapter)
    assert report.delivered == 3
    assert sent == ["starttls", ("login", "crm", "secret"), ("a@example.com", "Subject", "Body")]
    assert [m.status for m in _messages(db)] == ["sent", "recorded", "recorded", "failed"]


def test_the_operator_command_delivers_what_is_pending(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api import create_app
    from engine.engine import Engine, EngineConfig

    monkeypatch.delenv("CRM_SMTP_HOST", raising=False)
    _queue_three(db)
    engine = Engine(EngineConfig(database_url=db_url))
    try:
        app = create_app({"ENGINE": engine, "SCHEDULER_ENABLED": False})
        result = app.test_cli_runner().invoke(args=["deliver-notifications", "--limit", "2"])
        assert result.exit_code == 0, result.output
        assert "Delivered 2 (RecordOnly); 0 to retry; 0 given up." in result.output
        assert [m.status for m in _messages(db)] == ["recorded", "recorded", "pending", "failed"]
    finally:
        engine.close()
