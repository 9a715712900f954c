"""Raising SLA stages: an alarm record, a notification per person or role told, a history event.

Stages fire in order, each once: the clock row points at the next stage not yet raised, the
acting transaction moves the pointer past every stage that is due, and the database refuses a
second alarm for the same stage of the same task. Stages missed while no scheduler ran are all
raised when one runs again, in order, each with its own due time.

Who is told:

* reminder and warning: the assignee, or while nobody has claimed it everyone who may take it
  (its candidate users and each of its candidate groups, or its role);
* breach: the assignee and everyone who may take it;
* escalation: the role the policy escalates to (by default the manager of the task's role).

Notifications go to the engine's ``notifications`` outbox; a delivery worker sends them, or a
notification hook (``AlarmRaiser.hooks``) copies each into the CRM's outbox in the same
transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from ..actors import comma_list
from ..clock import Clock, as_utc
from ..db import Database
from ..history import NewEvent
from ..models import Task as TaskRow
from ..sla import SlaStage
from .case_history import CaseHead, append_case_events, lock_cases
from .claim import Claimed, still_mine
from .deadlines import schedule_from_json
from .holds import STOPPED
from .models import Alarm, Notification, SlaClockRow
from .sources import SLA_STAGES

SCHEDULER = "scheduler"
log = logging.getLogger(__name__)

# Called with each notification (a dict of the outbox row's columns) inside the raising transaction.
NotificationHook = Callable[[Connection, dict[str, Any]], None]

_CLOCKS_WITH_TASKS = (
    select(
        SlaClockRow, TaskRow.name, TaskRow.assignee, TaskRow.business_key, TaskRow.process_key,
        TaskRow.element_id, TaskRow.state.label("task_state"), TaskRow.candidate_groups,
        TaskRow.candidate_users,
    )
    .join(TaskRow, TaskRow.id == SlaClockRow.task_id)
    .where(SlaClockRow.task_id.in_(bindparam("task_ids", expanding=True)))
    .order_by(SlaClockRow.task_id)
    .with_for_update(of=SlaClockRow)
)
_INSERT_ALARMS = insert(Alarm).returning(Alarm.id, sort_by_parameter_order=True)
_INSERT_NOTIFICATIONS = insert(Notification)
_ADVANCE = (
    update(SlaClockRow)
    .where(SlaClockRow.task_id == bindparam("t_id"))
    .values(next_stage=bindparam("next_stage"), due_at=bindparam("due"), lease_owner=None, lease_until=None)
)
_SUBJECTS = {
    SlaStage.REMINDER: "Reminder: {task} is due {deadline}",
    SlaStage.WARNING: "Warning: most of the time for {task} is used; it is due {deadline}",
    SlaStage.BREACH: "Overdue: {task} was due {deadline}",
    SlaStage.ESCALATION: "Escalation: {task} is overdue since {deadline}",
}


@dataclass(frozen=True)
class RaisedAlarm:
    alarm_id: int
    task_id: str
    instance_id: str
    stage: str
    due_at: datetime
    raised_at: datetime
    notified: tuple[str, ...]


def recipients(
    stage: SlaStage,
    assignee: str | None,
    role: str | None,
    escalate_to: str | None,
    groups: Sequence[str] = (),
    candidates: Sequence[str] = (),
) -> list[str]:
    """Who a stage tells; ``groups`` (every candidate group, the role first) stands for ``role``
    when the diagram named several."""
    if stage is SlaStage.ESCALATION:
        return [f"role:{escalate_to}"] if escalate_to else []
    told = [f"user:{assignee}"] if assignee else []
    if stage is SlaStage.BREACH or not assignee:
        told.extend(f"user:{user}" for user in candidates if user != assignee)
        told.extend(f"role:{group}" for group in (groups or ([role] if role else [])))
    return told


class AlarmRaiser:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.hooks: list[NotificationHook] = []

    def raise_due(self, claimed: list[Claimed], owner: str) -> list[RaisedAlarm]:
        """Raise every due stage of the claimed clocks, in one transaction."""
        with self.db.transaction() as conn:
            return self._raise(conn, claimed, owner)

    def _raise(self, conn: Connection, claimed: list[Claimed], owner: str) -> list[RaisedAlarm]:
        now = self.clock.now()
        # Instances first, then clock rows: the order every command takes them in.
        heads = lock_cases(conn, [c.data["instance_id"] for c in claimed])
        rows = conn.execute(_CLOCKS_WITH_TASKS, {"task_ids": [c.key for c in claimed]}).all()
        alarms: list[dict[str, Any]] = []
        deadlines: list[datetime] = []
        advances: list[dict[str, Any]] = []
        for row in rows:
            if not still_mine(row, SLA_STAGES, owner, now):
                continue  # another scheduler took it over after our lease ran out, or it moved
            if row.task_state != "open" or row.state == STOPPED:
                advances.append({"t_id": row.task_id, "next_stage": None, "due": None})
                continue
            due_now, following = _split_due(schedule_from_json(row.schedule), row.next_stage, now)
            alarms.extend(_alarm_row(row, stage, when, now) for stage, when in due_now)
            deadlines.extend(as_utc(row.deadline_at) for _ in due_now)
            advances.append(
                {"t_id": row.task_id, "next_stage": following[0].value if following else None,
                 "due": following[1] if following else None}
            )
        if advances:
            conn.execute(_ADVANCE, advances)
        if not alarms:
            return []
        ids = conn.execute(_INSERT_ALARMS, alarms).scalars().all()
        raised = [_raised(alarm_id, alarm) for alarm_id, alarm in zip(ids, alarms, strict=True)]
        facts = [{**alarm, "deadline": deadline} for alarm, deadline in zip(alarms, deadlines, strict=True)]
        self._notify(conn, raised, facts, now)
        self._record(conn, raised, facts, now, heads)
        return raised

    def _notify(
        self, conn: Connection, raised: list[RaisedAlarm], facts: list[dict[str, Any]], now: datetime
    ) -> None:
        notes = []
        for alarm, row in zip(raised, facts, strict=True):
            deadline: datetime = row["deadline"]
            body = {
                "alarm_id": alarm.alarm_id, "stage": alarm.stage, "task_id": alarm.task_id,
                "task_name": row["task_name"], "instance_id": alarm.instance_id,
                "business_key": row["business_key"], "process_key": row["process_key"],
                "element_id": row["element_id"], "role": row["role"], "assignee": row["assignee"],
                "due_at": alarm.due_at.isoformat(), "deadline_at": deadline.isoformat(),
            }
            for recipient in alarm.notified:
                kind, _, name = recipient.partition(":")
                notes.append(
                    {
                        "created_at": now, "kind": f"sla.{alarm.stage}", "recipient_kind": kind,
                        "recipient": name, "subject": _subject(alarm, row, deadline),
                        "body": json.dumps(body), "alarm_id": alarm.alarm_id,
                        "instance_id": alarm.instance_id, "attempts": 0,
                    }
                )
        if notes:
            conn.execute(_INSERT_NOTIFICATIONS, notes)
            for note in notes:
                for hook in self.hooks:
                    hook(conn, note)

    @staticmethod
    def _record(
        conn: Connection,
        raised: list[RaisedAlarm],
        facts: list[dict[str, Any]],
        now: datetime,
        heads: dict[str, CaseHead],
    ) -> None:
        by_case: dict[str, list[NewEvent]] = {}
        for alarm, row in zip(raised, facts, strict=True):
            by_case.setdefault(alarm.instance_id, []).append(
                NewEvent(
                    f"sla_{alarm.stage}",
                    SCHEDULER,
                    {"alarm_id": alarm.alarm_id, "stage": alarm.stage, "due_at": alarm.due_at.isoformat(),
                     "deadline_at": row["deadline"].isoformat(), "notified": list(alarm.notified)},
                    task_id=alarm.task_id,
                    element_id=row["element_id"],
                )
            )
        append_case_events(conn, by_case, now, heads)


def _subject(alarm: RaisedAlarm, row: dict[str, Any], deadline: datetime) -> str:
    task = f"'{row['task_name'] or row['element_id']}'"
    if row["business_key"]:
        task += f" ({row['business_key']})"
    when = deadline.strftime("%Y-%m-%d %H:%M UTC")
    return _SUBJECTS[SlaStage(alarm.stage)].format(task=task, deadline=when)[:300]


def _split_due(
    schedule: list[tuple[SlaStage, datetime]], next_stage: str | None, now: datetime
) -> tuple[list[tuple[SlaStage, datetime]], tuple[SlaStage, datetime] | None]:
    """The stages from the pointer on that are due by ``now``, and the first one that is not."""
    stages = [stage.value for stage, _ in schedule]
    if next_stage not in stages:
        return [], None
    pending = schedule[stages.index(next_stage):]
    due = [(stage, when) for stage, when in pending if when <= now]
    rest = [(stage, when) for stage, when in pending if when > now]
    return due, (rest[0] if rest else None)


def _alarm_row(row: Any, stage: SlaStage, when: datetime, now: datetime) -> dict[str, Any]:
    told = recipients(
        stage, row.assignee, row.role, row.escalate_to, comma_list(row.candidate_groups),
        comma_list(row.candidate_users),
    )
    return {
        "task_id": row.task_id, "instance_id": row.instance_id, "business_key": row.business_key,
        "process_key": row.process_key, "element_id": row.element_id, "task_name": row.name,
        "stage": stage.value, "role": row.role, "assignee": row.assignee,
        "escalated_to": row.escalate_to if stage is SlaStage.ESCALATION else None,
        "notified": json.dumps(told), "due_at": when, "raised_at": now,
    }


def _raised(alarm_id: int, alarm: dict[str, Any]) -> RaisedAlarm:
    return RaisedAlarm(
        alarm_id, alarm["task_id"], alarm["instance_id"], alarm["stage"], alarm["due_at"], alarm["raised_at"],
        tuple(json.loads(alarm["notified"])),
    )
