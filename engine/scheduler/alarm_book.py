"""Reading alarms and deadlines, and acknowledging an alarm: what the API and the CLI call.

``alarms`` lists alarm records (open = not yet acknowledged) by stage, by role (the task's role
or the role it was escalated to), by case or task. ``deadline`` shows where one task's SLA
stands: its deadline, the working time left, whether its clock is paused, each stage with when
it is or was due and the alarm raised for it. ``acknowledge`` records that someone took notice;
it is in the case's history.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, or_, select, update

from ..actors import CASE_MANAGER_ROLES, Actor, require_can_change
from ..clock import Clock, as_utc
from ..db import Database
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..history import NewEvent
from ..models import Task as TaskRow
from ..paging import Page, PageRequest, SortKey, fetch_page
from ..sla import SlaStage
from ..sql_text import holds_text
from .case_history import append_case_events, lock_cases
from .deadlines import DeadlinePlanner, offsets_from_json, stage_times
from .holds import STOPPED, load_pauses, sla_clock
from .models import Alarm, Notification, SlaClockRow, SlaPause

MAX_PAGE = 1000
STAGES = tuple(stage.value for stage in SlaStage)
ALARM_SORT = {"raised_at": Alarm.raised_at, "due_at": Alarm.due_at, "stage": Alarm.stage}
ALARM_DEFAULT_SORT = (SortKey("raised_at", descending=True),)


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def alarm_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "stage": row.stage,
        "task_id": row.task_id,
        "task_name": row.task_name,
        "instance_id": row.instance_id,
        "business_key": row.business_key,
        "process_key": row.process_key,
        "element_id": row.element_id,
        "role": row.role,
        "assignee": row.assignee,
        "escalated_to": row.escalated_to,
        "notified": json.loads(row.notified),
        "due_at": _iso(row.due_at),
        "raised_at": _iso(row.raised_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "open": row.acknowledged_at is None,
    }


def notification_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": _iso(row.created_at),
        "kind": row.kind,
        "recipient_kind": row.recipient_kind,
        "recipient": row.recipient,
        "subject": row.subject,
        "body": json.loads(row.body),
        "alarm_id": row.alarm_id,
        "instance_id": row.instance_id,
        "delivered_at": _iso(row.delivered_at),
        "attempts": row.attempts,
    }


class AlarmBook:
    def __init__(self, db: Database, clock: Clock, planner: DeadlinePlanner) -> None:
        self.db = db
        self.clock = clock
        self.planner = planner

    def alarms(
        self,
        *,
        open_only: bool = False,
        acknowledged: bool | None = None,
        stage: str | None = None,
        role: str | None = None,
        told: Actor | None = None,
        instance_id: str | None = None,
        task_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Alarms, newest first. ``role`` matches the task's role, a role told or the role
        escalated to; ``told`` keeps the alarms told to that person or any of their roles."""
        if offset < 0 or limit < 1:
            raise ValidationError("offset must be ≥ 0 and limit ≥ 1")
        query = _alarm_query(
            acknowledged=False if open_only else acknowledged,
            stage=stage, role=role, told=told, instance_id=instance_id, task_id=task_id,
        )
        query = query.order_by(Alarm.raised_at.desc(), Alarm.id.desc())
        query = query.offset(offset).limit(min(limit, MAX_PAGE))
        with self.db.transaction(write=False) as conn:
            return [alarm_dict(row) for row in conn.execute(query)]

    def alarm_page(
        self,
        page: PageRequest,
        *,
        acknowledged: bool | None = None,
        stage: str | None = None,
        role: str | None = None,
        told: Actor | None = None,
        instance_id: str | None = None,
        task_id: str | None = None,
    ) -> Page:
        """The same alarms as a sortable page with its total (the REST API's list)."""
        query = _alarm_query(
            acknowledged=acknowledged, stage=stage, role=role, told=told, instance_id=instance_id,
            task_id=task_id,
        )
        with self.db.transaction(write=False) as conn:
            return fetch_page(conn, query, page, ALARM_SORT, ALARM_DEFAULT_SORT, Alarm.id, alarm_dict)

    def alarm(self, alarm_id: int) -> dict[str, Any]:
        with self.db.transaction(write=False) as conn:
            return alarm_dict(self._alarm(conn, alarm_id))

    def acknowledge(self, alarm_id: int, actor: Actor, note: str | None = None) -> dict[str, Any]:
        """Record that ``actor`` took notice of the alarm; once only."""
        require_can_change(actor, "acknowledge alarms")
        with self.db.transaction() as conn:
            row = self._alarm(conn, alarm_id)
            lock_cases(conn, [row.instance_id])
            row = self._alarm(conn, alarm_id, lock=True)
            if row.acknowledged_at is not None:
                when = _iso(row.acknowledged_at)
                raise Conflict(f"Alarm {alarm_id} was acknowledged by {row.acknowledged_by} at {when}")
            if not _may_acknowledge(actor, json.loads(row.notified)):
                raise Forbidden(f"{actor.name} was not told of alarm {alarm_id} and may not acknowledge it")
            now = self.clock.now()
            acknowledged = update(Alarm).where(Alarm.id == alarm_id)
            conn.execute(acknowledged.values(acknowledged_at=now, acknowledged_by=actor.name))
            event = NewEvent(
                "alarm_acknowledged", actor.name, {"alarm_id": alarm_id, "stage": row.stage, "note": note},
                task_id=row.task_id, element_id=row.element_id,
            )
            append_case_events(conn, {row.instance_id: [event]}, now)
            return alarm_dict(self._alarm(conn, alarm_id))

    def deadline(self, task_id: str) -> dict[str, Any]:
        """Where a task's SLA stands now: deadline, time left, pauses, every stage and its alarm."""
        now = self.clock.now()
        with self.db.transaction(write=False) as conn:
            query = select(TaskRow.id, TaskRow.due_at, TaskRow.state).where(TaskRow.id == task_id)
            task = conn.execute(query).first()
            if task is None:
                raise NotFound(f"No task with id {task_id!r}")
            row = conn.execute(select(SlaClockRow).where(SlaClockRow.task_id == task_id)).first()
            if row is None:
                return _without_sla(task, now)
            pauses = load_pauses(conn, [task_id]).get(task_id, [])
            alarms = select(Alarm.id, Alarm.stage, Alarm.raised_at).where(Alarm.task_id == task_id)
            raised = {alarm.stage: alarm for alarm in conn.execute(alarms)}
            holds = conn.execute(
                select(SlaPause.reason, SlaPause.started_at, SlaPause.ended_at, SlaPause.started_by)
                .where(SlaPause.task_id == task_id)
                .order_by(SlaPause.started_at)
            ).all()
        clock = sla_clock(row, pauses, self.planner)
        offsets = offsets_from_json(row.offsets)
        total = next(offset for stage, offset in offsets if stage is SlaStage.BREACH)
        used = clock.used(now)
        # While paused, the projection runs on with the pause: when stages would come if resumed now.
        schedule = stage_times(offsets, clock, now)
        deadline = next(when for stage, when in schedule if stage is SlaStage.BREACH)
        end = as_utc(row.stopped_at) if row.stopped_at is not None else now
        return {
            "task_id": task_id,
            "state": row.state,
            "policy": row.policy,
            "tier": row.tier,
            "calendar": row.calendar,
            "started_at": _iso(row.started_at),
            "deadline_at": deadline.isoformat(),
            "seconds_until_deadline": _seconds(deadline - end),
            "working_seconds_total": _seconds(total),
            "working_seconds_used": _seconds(used),
            "working_seconds_left": _seconds(max(total - used, timedelta(0))),
            "working_seconds_overdue": _seconds(max(used - total, timedelta(0))),
            "working_seconds_paused": _seconds(clock.paused_time(now)),
            "stopped_at": _iso(row.stopped_at),
            "met": (as_utc(row.stopped_at) <= deadline) if row.state == STOPPED and row.stopped_at else None,
            "next_stage": row.next_stage,
            "stages": [
                {
                    "stage": stage.value,
                    "at": when.isoformat(),
                    "alarm_id": raised[stage.value].id if stage.value in raised else None,
                    "raised_at": _iso(raised[stage.value].raised_at) if stage.value in raised else None,
                }
                for stage, when in schedule
            ],
            "pauses": [
                {"reason": h.reason, "from": _iso(h.started_at), "to": _iso(h.ended_at), "by": h.started_by}
                for h in holds
            ],
        }

    def notifications(
        self, *, pending_only: bool = True, recipient: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The engine's outbox, oldest first: what a delivery worker still has to send."""
        query = select(Notification)
        if pending_only:
            query = query.where(Notification.delivered_at.is_(None))
        if recipient is not None:
            query = query.where(Notification.recipient == recipient)
        query = query.order_by(Notification.id).limit(min(max(limit, 1), MAX_PAGE))
        with self.db.transaction(write=False) as conn:
            return [notification_dict(row) for row in conn.execute(query)]

    def mark_delivered(self, notification_ids: list[int]) -> int:
        """A delivery worker sent these; returns how many were still pending."""
        with self.db.transaction() as conn:
            result = conn.execute(
                update(Notification)
                .where(Notification.id.in_(notification_ids), Notification.delivered_at.is_(None))
                .values(delivered_at=self.clock.now(), attempts=Notification.attempts + 1)
            )
            return int(result.rowcount)

    @staticmethod
    def _alarm(conn: Connection, alarm_id: int, lock: bool = False) -> Any:
        query = select(Alarm).where(Alarm.id == alarm_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound(f"No alarm with id {alarm_id}")
        return row


def _alarm_query(
    *,
    acknowledged: bool | None,
    stage: str | None,
    role: str | None,
    instance_id: str | None,
    task_id: str | None,
    told: Actor | None = None,
) -> Select:
    if stage is not None and stage not in STAGES:
        raise ValidationError(f"Unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    query = select(Alarm)
    if acknowledged is False:
        query = query.where(Alarm.acknowledged_at.is_(None))
    elif acknowledged:
        query = query.where(Alarm.acknowledged_at.is_not(None))
    if stage is not None:
        query = query.where(Alarm.stage == stage)
    if role is not None:
        query = query.where(or_(Alarm.role == role, Alarm.escalated_to == role, _told(f"role:{role}")))
    if told is not None:
        whom = [f"user:{told.name}", *(f"role:{r}" for r in sorted(told.roles))]
        query = query.where(or_(*(_told(recipient) for recipient in whom)))
    if instance_id is not None:
        query = query.where(Alarm.instance_id == instance_id)
    if task_id is not None:
        query = query.where(Alarm.task_id == task_id)
    return query


def _told(recipient: str) -> holds_text:
    """The alarm's recipients (a JSON list of "user:…" and "role:…") name ``recipient``."""
    return holds_text(Alarm.notified, json.dumps(recipient))


def _may_acknowledge(actor: Actor, notified: list[str]) -> bool:
    """Those told, and case managers, may acknowledge; operators and the scheduler too."""
    if actor.is_admin or CASE_MANAGER_ROLES & actor.roles:
        return True
    return f"user:{actor.name}" in notified or any(f"role:{role}" in notified for role in actor.roles)


def _without_sla(task: Any, now: datetime) -> dict[str, Any]:
    due = as_utc(task.due_at) if task.due_at is not None else None
    return {
        "task_id": task.id,
        "state": None,
        "deadline_at": _iso(due),
        "seconds_until_deadline": _seconds(due - now) if due is not None and task.state == "open" else None,
        "stages": [],
        "pauses": [],
    }


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())
