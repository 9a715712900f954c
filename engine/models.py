"""The engine's tables.

Instance state is stored without its spec: the parsed spec lives once per definition
version (``definitions.specs``); an instance keeps its workflow-level state on its row
and one row per SpiffWorkflow task in ``task_states``, so a step rewrites only the tasks
it changed. Open user and external tasks are rows of their own (``tasks``) so inboxes and
deadline scans are indexed queries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base

ID = String(64)
# Lease indexes hold only leased rows (a handful in flight), so "not leased" is never looked up in
# them and the due-time index answers "what is due next" in the order it is stored.
LEASED_ONLY: dict[str, Any] = {
    "postgresql_where": text("lease_until IS NOT NULL"),
    "sqlite_where": text("lease_until IS NOT NULL"),
}


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(255))
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deployed_by: Mapped[str] = mapped_column(String(255))


class Definition(Base):
    """One version of one process (keyed by its BPMN process id)."""

    __tablename__ = "definitions"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_definitions_key_version"),
        Index("ix_definitions_key_hash", "key", "content_hash"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"))
    resource_name: Mapped[str] = mapped_column(String(512))
    content_hash: Mapped[str] = mapped_column(String(64))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    # {spec name: SpiffWorkflow spec dict} for this process and its embedded sub-processes.
    specs: Mapped[str] = mapped_column(Text)
    # {called process key: definition id} for call activities, bound at deploy time.
    called: Mapped[str] = mapped_column(Text, default="{}")
    # {form key: form document} snapshot, so a running case keeps the form it started with.
    forms: Mapped[str] = mapped_column(Text, default="{}")
    # Message names of message start events.
    start_messages: Mapped[str] = mapped_column(Text, default="[]")
    executable: Mapped[bool] = mapped_column(Boolean, default=True)
    documentation: Mapped[str | None] = mapped_column(Text)
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_business_key", "business_key"),
        Index("ix_instances_status_started", "status", "started_at"),
        Index("ix_instances_process_key", "process_key", "status"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    definition_id: Mapped[str] = mapped_column(ForeignKey("definitions.id"))
    process_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    # running | completed | cancelled; suspension and incidents are separate flags.
    status: Mapped[str] = mapped_column(String(20))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    incidents: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[str] = mapped_column(String(255))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Optimistic concurrency: every command checks and bumps it.
    version: Mapped[int] = mapped_column(Integer)
    serializer_version: Mapped[str] = mapped_column(String(20))
    # Workflow-level state (everything but tasks and specs), JSON.
    state: Mapped[str] = mapped_column(Text)
    # The case data as of the last step, JSON, for display and queries.
    variables: Mapped[str] = mapped_column(Text)
    next_task_pos: Mapped[int] = mapped_column(Integer, default=0)
    history_seq: Mapped[int] = mapped_column(Integer, default=0)
    history_head: Mapped[str] = mapped_column(String(64), default="")


class TaskState(Base):
    """One SpiffWorkflow task of one instance, as its serializer writes it."""

    __tablename__ = "task_states"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    task_id: Mapped[str] = mapped_column(ID, primary_key=True)
    # None for the top-level workflow, else the id of the task that owns the sub-workflow.
    workflow_id: Mapped[str | None] = mapped_column(ID)
    # Creation order: parents are restored before their children.
    pos: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)


class Task(Base):
    """A user task or an external/service task waiting for work: open, then ended."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_state_role", "state", "role"),
        Index("ix_tasks_state_assignee", "state", "assignee"),
        Index("ix_tasks_state_due", "state", "due_at"),
        Index("ix_tasks_state_topic", "state", "kind", "topic"),
        Index("ix_tasks_instance", "instance_id", "state"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    definition_id: Mapped[str] = mapped_column(String(255))
    process_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    documentation: Mapped[str | None] = mapped_column(Text)
    # user | external | service
    kind: Mapped[str] = mapped_column(String(20))
    # open | completed | cancelled
    state: Mapped[str] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(255))
    # Every camunda:candidateGroups entry, comma-separated (role is the first); NULL when a lane,
    # or nothing, gives the role. Any of them may take the task.
    candidate_groups: Mapped[str | None] = mapped_column(String(1024))
    candidate_users: Mapped[str | None] = mapped_column(String(1024))
    assignee: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255))
    form_key: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=50)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(255))
    topic: Mapped[str | None] = mapped_column(String(255))
    worker_id: Mapped[str | None] = mapped_column(String(255))
    lock_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retries: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)


class Subscription(Base):
    """What an instance waits for: a message, a signal or a timer (with its due time)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_message", "kind", "name", "business_key"),
        Index("ix_subscriptions_due", "kind", "due_at"),
        Index("ix_subscriptions_instance", "instance_id"),
        # Timers leased to a scheduler: when their lease runs out is the next wake-up's concern.
        Index("ix_subscriptions_lease", "kind", "lease_until", **LEASED_ONLY),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(ID)
    element_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_instance", "instance_id", "state"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(ID)
    element_id: Mapped[str] = mapped_column(String(255))
    handler: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    # open | resolved
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(255))


class HistoryEvent(Base):
    """Append-only audit trail; each event's hash chains to the previous one of its chain."""

    __tablename__ = "history_events"
    __table_args__ = (
        # An instance's events are the chain named by its id, so (chain, seq) also finds an
        # instance's history: no separate instance index to update on every append.
        UniqueConstraint("chain", "seq", name="uq_history_chain_seq"),
        Index("ix_history_business_key", "business_key"),
        Index("ix_history_actor_at", "actor", "at"),
        Index("ix_history_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The instance id for instance events, else a named chain ("deployments", "admin").
    chain: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    instance_id: Mapped[str | None] = mapped_column(String(64))
    business_key: Mapped[str | None] = mapped_column(String(255))
    definition_id: Mapped[str | None] = mapped_column(String(255))
    definition_version: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[str | None] = mapped_column(String(64))
    element_id: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class HistoryChain(Base):
    """Head of each chain that is not an instance (instances keep their head on their row)."""

    __tablename__ = "history_chains"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))
