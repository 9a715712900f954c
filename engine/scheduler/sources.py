"""The three kinds of due work the scheduler claims: SLA stages, BPMN timers, timer starts."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table

from ..models import Subscription
from .claim import DueSource
from .models import SlaClockRow, TimerStart


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


SLA_STAGES = DueSource("sla", _table(SlaClockRow), "task_id", extra=("instance_id",))
BPMN_TIMERS = DueSource(
    "timer",
    _table(Subscription),
    "id",
    extra=("instance_id",),
    where=_table(Subscription).c.kind == "timer",
)
TIMER_STARTS = DueSource("timer_start", _table(TimerStart), "id")
ALL_SOURCES = (SLA_STAGES, BPMN_TIMERS, TIMER_STARTS)
