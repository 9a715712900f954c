"""Tables of the scheduler: SLA clocks and their pauses, alarms, the notification outbox, timer starts.

Every due time lives here (or, for BPMN timers inside instances, in ``subscriptions``); the
scheduler only wakes at the earliest one. Rows that fall due are claimed with a lease
(``lease_owner``/``lease_until``), so a scheduler process that dies mid-work leaves nothing
locked for longer than the lease.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..models import ID, LEASED_ONLY


class SlaClockRow(Base):
    """One user task's SLA clock: the stages it announces, where it stands, the next stage due."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        Index("ix_sla_clocks_due", "due_at"),
        Index("ix_sla_clocks_lease", "lease_until", **LEASED_ONLY),
        Index("ix_sla_clocks_instance", "instance_id", "state"),
    )

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    # The policy that set the deadline (None: the diagram's camunda:dueDate with no policy).
    policy: Mapped[str | None] = mapped_column(String(255))
    tier: Mapped[str | None] = mapped_column(String(16))
    calendar: Mapped[str] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(255))
    escalate_to: Mapped[str | None] = mapped_column(String(255))
    # [[stage, working seconds after the start], ...] in firing order: the plan, fixed at creation.
    offsets: Mapped[str] = mapped_column(Text)
    # [[stage, ISO time], ...]: when each stage comes, as projected at creation or the last resume.
    schedule: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # running | paused | stopped
    state: Mapped[str] = mapped_column(String(20))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The breach time as projected now (moves later with each pause).
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The first stage not yet raised, and when it is due (None while paused or when all are raised).
    next_stage: Mapped[str | None] = mapped_column(String(20))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SlaPause(Base):
    """A stretch of time a clock did not count: waiting on the customer, or paused by someone."""

    __tablename__ = "sla_pauses"
    __table_args__ = (
        Index("ix_sla_pauses_task", "task_id", "started_at"),
        Index("ix_sla_pauses_open", "instance_id", "reason", "ended_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("sla_clocks.task_id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(64))
    # customer (automatic, while the case is at a waiting element) | manual
    reason: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[str] = mapped_column(String(255))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(255))


class Alarm(Base):
    """One stage of one task's SLA, raised once: who was told, and whether someone took notice."""

    __tablename__ = "alarms"
    __table_args__ = (
        # The database itself refuses a second alarm for the same stage of the same task.
        UniqueConstraint("task_id", "stage", name="uq_alarms_task_stage"),
        Index("ix_alarms_open", "acknowledged_at", "raised_at"),
        Index("ix_alarms_stage", "stage", "raised_at"),
        Index("ix_alarms_role", "role", "raised_at"),
        Index("ix_alarms_escalated_to", "escalated_to", "raised_at"),
        Index("ix_alarms_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(64))
    business_key: Mapped[str | None] = mapped_column(String(255))
    process_key: Mapped[str] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    task_name: Mapped[str | None] = mapped_column(String(255))
    # reminder | warning | breach | escalation
    stage: Mapped[str] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(255))
    assignee: Mapped[str | None] = mapped_column(String(255))
    escalated_to: Mapped[str | None] = mapped_column(String(255))
    # JSON list of recipients, "user:<name>" or "role:<role>": who was told.
    notified: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))


class Notification(Base):
    """The engine's outbox: what someone must be told. Delivery (e-mail, SMS, inbox) is not the
    engine's business; a delivery worker reads undelivered rows, or a notification hook copies
    them into the CRM's own outbox in the same transaction."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "delivered_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # e.g. sla.reminder, sla.breach
    kind: Mapped[str] = mapped_column(String(64))
    # user | role
    recipient_kind: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(300))
    # JSON: the facts a channel needs to word the message.
    body: Mapped[str] = mapped_column(Text)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"))
    instance_id: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class TimerStart(Base):
    """A timer start event of the latest version of a process: when it next starts an instance."""

    __tablename__ = "timer_starts"
    __table_args__ = (
        UniqueConstraint("definition_id", "element_id", name="uq_timer_starts_element"),
        Index("ix_timer_starts_due", "due_at"),
        Index("ix_timer_starts_lease", "lease_until", **LEASED_ONLY),
        Index("ix_timer_starts_key", "process_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    process_key: Mapped[str] = mapped_column(String(255))
    definition_id: Mapped[str] = mapped_column(ForeignKey("definitions.id", ondelete="CASCADE"))
    element_id: Mapped[str] = mapped_column(String(255))
    # timeDate | timeDuration | timeCycle
    kind: Mapped[str] = mapped_column(String(20))
    expression: Mapped[str] = mapped_column(String(255))
    # When the schedule began (deploy time): the origin of a cycle without a start date.
    anchor: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The next start (None: a one-off timer that has fired, or a cycle that is used up).
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fired: Mapped[int] = mapped_column(Integer, default=0)
    last_instance_id: Mapped[str | None] = mapped_column(ID)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
