"""Pausing and resuming SLA clocks: while the case waits on the customer, or when someone says so.

A clock may be held for several reasons at once (the customer is away and a manager paused it);
it runs again only when every hold has ended. The working time a clock did not count is the
union of its holds, so overlapping holds are not subtracted twice. On resume every stage not yet
raised moves later by the time held, and the task row shows the new deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, update

from ..clock import as_utc
from ..models import Task as TaskRow
from ..sla import Pause, SlaClock
from .deadlines import DeadlinePlanner, breach_time, offsets_from_json, schedule_json, stage_times
from .models import SlaClockRow, SlaPause

CUSTOMER = "customer"
MANUAL = "manual"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

_RESCHEDULE = (
    update(SlaClockRow)
    .where(SlaClockRow.task_id == bindparam("t_id"))
    .values(
        state=RUNNING,
        schedule=bindparam("schedule"),
        deadline_at=bindparam("deadline"),
        due_at=bindparam("due"),
        lease_owner=None,
        lease_until=None,
    )
)


class Resumed(NamedTuple):
    """A clock running again: its new deadline, and when its next stage is due (None: all raised)."""

    deadline: datetime
    next_due: datetime | None


_TASK_DUE = update(TaskRow).where(TaskRow.id == bindparam("t_id")).values(due_at=bindparam("deadline"))


def hold(conn: Connection, task_ids: Iterable[str], reason: str, by: str, now: datetime) -> list[str]:
    """Hold the clocks of ``task_ids`` for ``reason``; returns the tasks newly held for it."""
    ids = sorted(set(task_ids))
    if not ids:
        return []
    live = conn.execute(
        select(SlaClockRow.task_id, SlaClockRow.instance_id)
        .where(SlaClockRow.task_id.in_(ids), SlaClockRow.state != STOPPED)
        .with_for_update()
    ).all()
    held = set(
        conn.execute(
            select(SlaPause.task_id).where(
                SlaPause.task_id.in_(ids), SlaPause.reason == reason, SlaPause.ended_at.is_(None)
            )
        ).scalars()
    )
    targets = [row for row in live if row.task_id not in held]
    if not targets:
        return []
    conn.execute(
        insert(SlaPause),
        [
            {"task_id": row.task_id, "instance_id": row.instance_id, "reason": reason, "started_at": now,
             "started_by": by}
            for row in targets
        ],
    )
    # A paused clock announces nothing: its next stage has no time until it runs again.
    conn.execute(
        update(SlaClockRow)
        .where(SlaClockRow.task_id.in_([row.task_id for row in targets]), SlaClockRow.state == RUNNING)
        .values(state=PAUSED, due_at=None, lease_owner=None, lease_until=None)
    )
    return [row.task_id for row in targets]


def release(
    conn: Connection, task_ids: Iterable[str], reason: str, by: str, now: datetime, planner: DeadlinePlanner
) -> dict[str, Resumed]:
    """End the ``reason`` holds of ``task_ids``; clocks with no hold left run again (returned)."""
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    open_holds = select(SlaPause.task_id).where(
        SlaPause.task_id.in_(ids), SlaPause.reason == reason, SlaPause.ended_at.is_(None)
    )
    ending = set(conn.execute(open_holds).scalars())
    if not ending:
        return {}
    conn.execute(
        update(SlaPause)
        .where(SlaPause.task_id.in_(sorted(ending)), SlaPause.reason == reason, SlaPause.ended_at.is_(None))
        .values(ended_at=now, ended_by=by)
    )
    still_held = set(
        conn.execute(
            select(SlaPause.task_id).where(SlaPause.task_id.in_(sorted(ending)), SlaPause.ended_at.is_(None))
        ).scalars()
    )
    return reschedule(conn, sorted(ending - still_held), planner, now)


def reschedule(
    conn: Connection, task_ids: Sequence[str], planner: DeadlinePlanner, now: datetime
) -> dict[str, Resumed]:
    """Run the paused clocks of ``task_ids`` again, every stage not yet raised shifted by the time held."""
    if not task_ids:
        return {}
    rows = conn.execute(
        select(SlaClockRow).where(SlaClockRow.task_id.in_(task_ids), SlaClockRow.state == PAUSED)
    ).all()
    resumed: dict[str, Resumed] = {}
    params = []
    for row in rows:
        clock = sla_clock(row, load_pauses(conn, [row.task_id]).get(row.task_id, []), planner)
        schedule = stage_times(offsets_from_json(row.offsets), clock, now)
        stages = [stage.value for stage, _ in schedule]
        due = schedule[stages.index(row.next_stage)][1] if row.next_stage in stages else None
        deadline = breach_time(schedule)
        resumed[row.task_id] = Resumed(deadline, due)
        params.append(
            {"t_id": row.task_id, "schedule": schedule_json(schedule), "deadline": deadline, "due": due}
        )
    if params:
        conn.execute(_RESCHEDULE, params)
        conn.execute(_TASK_DUE, [{"t_id": p["t_id"], "deadline": p["deadline"]} for p in params])
    return resumed


def load_pauses(conn: Connection, task_ids: Sequence[str]) -> dict[str, list[Pause]]:
    """Each task's held stretches, overlapping holds merged into one."""
    found: dict[str, list[tuple[datetime, datetime | None]]] = {}
    rows = conn.execute(
        select(SlaPause.task_id, SlaPause.started_at, SlaPause.ended_at)
        .where(SlaPause.task_id.in_(task_ids))
        .order_by(SlaPause.task_id, SlaPause.started_at)
    )
    for task_id, started, ended in rows:
        found.setdefault(task_id, []).append((as_utc(started), as_utc(ended) if ended else None))
    return {task_id: _merged(stretches) for task_id, stretches in found.items()}


def sla_clock(row: Any, pauses: list[Pause], planner: DeadlinePlanner) -> SlaClock:
    stopped = as_utc(row.stopped_at) if row.stopped_at is not None else None
    return SlaClock(planner.calendar(row.calendar), as_utc(row.started_at), tuple(pauses), stopped)


def _merged(stretches: list[tuple[datetime, datetime | None]]) -> list[Pause]:
    merged: list[list[datetime | None]] = []
    for start, end in stretches:
        if merged:
            last_end = merged[-1][1]
            if last_end is None or start <= last_end:
                merged[-1][1] = None if last_end is None or end is None else max(last_end, end)
                continue
        merged.append([start, end])
    return [Pause(start, end) for start, end in merged if start is not None]
