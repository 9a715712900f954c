"""Driving the CRM processes as the staff would, for the end-to-end process tests.

``Crm`` is an engine with the real handlers, the real forms and processes/ deployed, on a
database holding the demo data set; staff are ``Actor``s with their role. Helpers read what
a test asserts: open tasks, the case variables, the history, and the CRM records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.clock import ManualClock
from engine.engine import Engine, EngineConfig
from engine.models import HistoryEvent, Incident, Instance
from engine.models import Task as TaskRow
from engine.scheduler.models import SlaClockRow
from engine.scheduler.service import SchedulerService
from handlers import build_registry, demo_data
from handlers.dates import local_day
from handlers.notify import copy_engine_notification
from handlers.records import OutboxMessage, PartStock

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

AGENT = Actor.person("li.na", ["agent"])
COMPLAINT_HANDLER = Actor.person("chen.hao", ["complaint_handler"])
DISPATCHER = Actor.person("wu.fang", ["dispatcher"])
MANAGER = Actor.person("ma.jun", ["service_manager"])
DIRECTOR = Actor.person("gao.yan", ["director"])
FINANCE = Actor.person("he.ping", ["finance"])
ACCOUNT_MANAGER = Actor.person("xu.ming", ["account_manager"])
TECHNICIANS = {t[0]: Actor.person(t[2], ["technician"]) for t in demo_data.TECHNICIANS}


class Crm:
    def __init__(self, engine: Engine, clock: ManualClock) -> None:
        self.engine = engine
        self.clock = clock

    @classmethod
    @contextmanager
    def open(cls, db_url: str, clock: ManualClock) -> Iterator[Crm]:
        config = EngineConfig(
            database_url=db_url, forms_dir=ROOT / "forms", sla_policies=ROOT / "processes" / "sla.toml"
        )
        engine = Engine(config, handlers=build_registry(), clock=clock)
        engine.alarm_raiser.hooks.append(copy_engine_notification)  # as api.build_engine wires it
        try:
            demo_data.load(engine.db, None, local_day(clock.now()), clock.now())
            engine.deploy_paths([ROOT / "processes"], actor="designer")
            yield cls(engine, clock)
        finally:
            engine.close()

    # -- commands ------------------------------------------------------------------------------

    def start(self, process: str, actor: Actor, business_key: str | None = None, **variables: Any) -> str:
        return self.engine.runtime.start(
            actor=actor, process_key=process, business_key=business_key, variables=variables
        )

    def complete(self, instance_id: str, element_id: str, actor: Actor, **data: Any) -> None:
        self.engine.runtime.complete_task(self.task(instance_id, element_id)["id"], data, actor)

    def correlate(self, message: str, business_key: str | None, **variables: Any) -> list[str]:
        return self.engine.runtime.correlate(
            message, actor=Actor.operator("gateway"), business_key=business_key, variables=variables
        )

    # -- reading -------------------------------------------------------------------------------

    def open_tasks(self, instance_id: str) -> list[str]:
        with self.engine.db.transaction(write=False) as conn:
            rows = conn.execute(
                select(TaskRow.element_id).where(TaskRow.instance_id == instance_id, TaskRow.state == "open")
            )
            return sorted(r.element_id for r in rows)

    def task(self, instance_id: str, element_id: str) -> dict[str, Any]:
        with self.engine.db.transaction(write=False) as conn:
            rows = conn.execute(
                select(TaskRow).where(
                    TaskRow.instance_id == instance_id,
                    TaskRow.element_id == element_id,
                    TaskRow.state == "open",
                )
            ).all()
        assert len(rows) == 1, f"{element_id}: {len(rows)} open tasks; open: {self.open_tasks(instance_id)}"
        return dict(rows[0]._mapping)

    def task_data(self, instance_id: str, element_id: str) -> dict[str, Any]:
        """The data an open user task's form sees (inside a called process too)."""
        task_id = self.task(instance_id, element_id)["id"]
        with self.engine.db.transaction() as conn:
            live = self.engine.store.load(conn, instance_id)
            task = live.workflow.get_task_from_id(UUID(task_id))
            data = dict(task.data)
        self.engine.store.cache.put(live)
        return data

    def instance(self, instance_id: str) -> dict[str, Any]:
        with self.engine.db.transaction(write=False) as conn:
            row = conn.execute(select(Instance).where(Instance.id == instance_id)).one()
        data = dict(row._mapping)
        data["variables"] = json.loads(row.variables)
        return data

    def variables(self, instance_id: str) -> dict[str, Any]:
        return dict(self.instance(instance_id)["variables"])

    def status(self, instance_id: str) -> str:
        return str(self.instance(instance_id)["status"])

    def instances(self, process_key: str) -> list[dict[str, Any]]:
        with self.engine.db.transaction(write=False) as conn:
            rows = conn.execute(
                select(Instance.id).where(Instance.process_key == process_key).order_by(Instance.started_at)
            )
            ids = [r.id for r in rows]
        return [self.instance(i) for i in ids]

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        with self.engine.db.transaction(write=False) as conn:
            rows = conn.execute(
                select(HistoryEvent).where(HistoryEvent.instance_id == instance_id).order_by(HistoryEvent.seq)
            )
            return [
                {
                    "type": r.event_type,
                    "actor": r.actor,
                    "element_id": r.element_id,
                    "data": json.loads(r.data),
                }
                for r in rows
            ]

    def handlers_run(self, instance_id: str) -> list[str]:
        """The handlers that completed, in order (the audit trail of the automatic steps)."""
        return [e["data"]["handler"] for e in self.history(instance_id) if e["type"] == "handler_completed"]

    def completed_by(self, instance_id: str) -> dict[str, str]:
        """Who completed which user task (element id → actor), from the history."""
        return {
            e["element_id"]: e["actor"] for e in self.history(instance_id) if e["type"] == "task_completed"
        }

    def sla_tier(self, instance_id: str, element_id: str) -> str | None:
        """The customer tier an open user task's SLA clock was planned with."""
        task_id = self.task(instance_id, element_id)["id"]
        with self.engine.db.transaction(write=False) as conn:
            return conn.execute(select(SlaClockRow.tier).where(SlaClockRow.task_id == task_id)).scalar_one()

    def incidents(self, instance_id: str) -> list[str]:
        with self.engine.db.transaction(write=False) as conn:
            rows = conn.execute(
                select(Incident.message).where(Incident.instance_id == instance_id, Incident.state == "open")
            )
            return [r.message for r in rows]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Read (or arrange) CRM records; whatever is changed here is committed."""
        with self.engine.db.transaction() as conn:
            session = Session(bind=conn)
            try:
                yield session
                session.flush()
            finally:
                session.close()

    def record(self, model: type[T], key: Any) -> T:
        with self.session() as s:
            found = s.get(model, key)
            assert found is not None, f"no {model.__name__} {key!r}"
            s.expunge(found)
            return found

    def records(self, model: type[T], *where: Any) -> list[T]:
        with self.session() as s:
            found = list(s.scalars(select(model).where(*where)))
            s.expunge_all()
            return found

    def outbox(self, *where: Any) -> list[OutboxMessage]:
        return self.records(OutboxMessage, *where)

    def stock(self, warehouse: str, part: str) -> int:
        return self.record(PartStock, (warehouse, part)).quantity

    def set_stock(self, warehouse: str, part: str, quantity: int) -> None:
        with self.session() as s:
            row = s.get(PartStock, (warehouse, part))
            assert row is not None
            row.quantity = quantity

    def tick(self, to: datetime | timedelta) -> list[str]:
        """Move the clock and let the scheduler do what fell due (timers, SLA stages)."""
        if isinstance(to, timedelta):
            self.clock.advance(to)
        else:
            self.clock.set(to)
        report = SchedulerService(self.engine, owner="test-scheduler", listen=False).wake_once()
        return [fired.kind for fired in report.fired]
