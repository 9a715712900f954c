"""One wake-up's work: claim what is due, act on it through engine commands, report what fired.

The work of a wake-up grows with the number of due rows, never with the number of open tasks or
waiting timers: every query is a range scan of a due-time index from its low end.

A row whose command fails (a script error after a timer, say) must not stop the others nor be
retried in a tight loop: its failure is logged and it is parked, to be tried again later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock
from ..db import Database
from .alarms import AlarmRaiser
from .claim import Claimed, DueSource, claim, has_due, next_due, release
from .sources import ALL_SOURCES, BPMN_TIMERS, SLA_STAGES, TIMER_STARTS
from .timer_commands import TimerCommands

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)
# A row whose command failed is tried again after this long (the failure is in the log).
RETRY_FAILED_AFTER = timedelta(minutes=5)
# SLA stages are raised this many clocks to a transaction: far fewer commits, still short locks.
ALARM_CHUNK = 100
MAX_ROUNDS = 1000


@dataclass(frozen=True)
class Fired:
    """Something that fired: what, when it was due, and when its transaction had committed."""

    kind: str
    key: Any
    due_at: datetime
    committed_at: datetime


@dataclass
class WakeReport:
    claimed: int = 0
    fired: list[Fired] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0


class DueWork:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        alarms: AlarmRaiser,
        timers: TimerCommands,
        *,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = 500,
    ) -> None:
        self.db = db
        self.clock = clock
        self.alarms = alarms
        self.timers = timers
        self.lease = lease
        self.batch = batch

    def next_due(self) -> datetime | None:
        """The earliest moment any source has work (a past moment: work is waiting now)."""
        dues = [due for due in self.next_due_by_source().values() if due is not None]
        return min(dues) if dues else None

    def next_due_by_source(self) -> dict[str, datetime | None]:
        with self.db.transaction(write=False) as conn:
            return {source.name: next_due(conn, source) for source in ALL_SOURCES}

    def run(self, owner: str, on_fired: Callable[[Fired], None] | None = None) -> WakeReport:
        """Claim and act until nothing is due any more."""
        started = time.perf_counter()
        report = WakeReport()
        for _ in range(MAX_ROUNDS):
            now = self.clock.now()
            with self.db.transaction(write=False) as conn:
                due_sources = [source for source in ALL_SOURCES if has_due(conn, source, now)]
            if not due_sources:
                break
            for source in due_sources:
                with self.db.transaction() as conn:
                    claimed = claim(conn, source, owner, self.clock.now(), self.lease, self.batch)
                report.claimed += len(claimed)
                self._act(source, claimed, owner, report, on_fired)
        report.seconds = time.perf_counter() - started
        return report

    def _act(
        self,
        source: DueSource,
        claimed: Sequence[Claimed],
        owner: str,
        report: WakeReport,
        on_fired: Callable[[Fired], None] | None,
    ) -> None:
        def fired(item: Claimed) -> None:
            done = Fired(source.name, item.key, item.due_at, self.clock.now())
            report.fired.append(done)
            if on_fired is not None:
                on_fired(done)

        if source is SLA_STAGES:
            for start in range(0, len(claimed), ALARM_CHUNK):
                self._raise_alarms(list(claimed[start : start + ALARM_CHUNK]), owner, report, fired)
            return
        for item in claimed:
            try:
                if source is BPMN_TIMERS:
                    done = self.timers.fire_timer(item, owner)
                else:
                    assert source is TIMER_STARTS
                    done = self.timers.start_by_timer(item, owner) is not None
            except Exception:
                log.exception("%s %s failed; trying again in %s", source.name, item.key, RETRY_FAILED_AFTER)
                self._park(source, [item], owner)
                report.failed += 1
                continue
            if done:
                fired(item)

    def _raise_alarms(
        self, chunk: list[Claimed], owner: str, report: WakeReport, fired: Callable[[Claimed], None]
    ) -> None:
        try:
            raised = self.alarms.raise_due(chunk, owner)
        except Exception:
            if len(chunk) == 1:
                log.exception("SLA clock %s failed; trying again in %s", chunk[0].key, RETRY_FAILED_AFTER)
                self._park(SLA_STAGES, chunk, owner)
                report.failed += 1
                return
            # One bad clock must not hold back the others: try them one by one.
            for item in chunk:
                self._raise_alarms([item], owner, report, fired)
            return
        raised_tasks = {alarm.task_id for alarm in raised}
        for item in chunk:
            if item.key in raised_tasks:
                fired(item)

    def _park(self, source: DueSource, items: Sequence[Claimed], owner: str) -> None:
        try:
            with self.db.transaction() as conn:
                keys = [item.key for item in items]
                release(conn, source, keys, until=self.clock.now() + RETRY_FAILED_AFTER, held_by=owner)
        except Exception:  # the lease runs out by itself; the next claim tries again
            log.exception("could not park %s %s", source.name, [item.key for item in items])
