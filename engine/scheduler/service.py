"""The scheduler process: APScheduler wakes it at the next due time; the database says what is due.

Nothing is kept in memory that a restart would lose. After each wake-up the service asks the
database for the earliest due time (an index lookup per kind of work) and asks APScheduler to
wake it then. It is woken earlier when a command commits something that falls due sooner: in
the same process through ``WakeHints``, from other processes through PostgreSQL's
``LISTEN engine_due``. A safety poll (every ``poll_seconds``) covers what no hint announced,
e.g. a write made while this process was starting or a notification lost with its connection.

Any number of services may run against one PostgreSQL database: the work is divided by claims
with leases (``claim.py``), so each due item is acted on once.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .due_work import Fired, WakeReport
from .hints import CHANNEL

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger(__name__)

JOB_ID = "engine-wake-up"
DEFAULT_POLL_SECONDS = 5.0


class _SkippedPollFilter(logging.Filter):
    """With one wake-up running and one waiting, APScheduler skips a third and warns. Nothing is
    lost (the waiting one looks at everything that is due when it gets its turn): noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_SkippedPollFilter())


def default_owner() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is someone new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SchedulerService:
    def __init__(
        self,
        engine: Engine,
        *,
        owner: str | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        listen: bool = True,
        on_fired: Callable[[Fired], None] | None = None,
    ) -> None:
        self.engine = engine
        self.owner = owner or default_owner()
        self.poll_seconds = poll_seconds
        self.on_fired = on_fired
        self.last_report: WakeReport | None = None
        self._listen = listen
        # One wake-up works at a time; a second one started meanwhile waits, then looks again.
        self._working = threading.Lock()
        # Reading and moving the next wake-up time is one step, whichever thread does it.
        self._rescheduling = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._listener: _PostgresListener | None = None

    # -- one wake-up -------------------------------------------------------------------------

    def wake_once(self) -> WakeReport:
        """Do everything that is due now (tests with a manual clock call this directly)."""
        report = self.engine.due.run(self.owner, self.on_fired)
        self.last_report = report
        if report.fired or report.failed:
            log.info("woke: %d fired, %d failed in %.3f s", len(report.fired), report.failed, report.seconds)
        return report

    def _wake(self) -> None:
        # APScheduler may start this job while it still runs (max_instances=2): the second run
        # waits here and then does whatever fell due meanwhile, so no wake-up is ever lost.
        with self._working:
            try:
                self.wake_once()
            except Exception:  # the database may be away; the safety poll tries again
                log.exception("scheduler wake-up failed")
            try:
                following = self.engine.due.next_due()
            except Exception:
                log.exception("could not read the next due time")
                following = None
        if following is not None:
            self._wake_at(following)

    # -- being told ----------------------------------------------------------------------------

    def hint(self, at: datetime) -> None:
        """Something falls due at ``at``: wake then, unless already waking earlier."""
        self._wake_at(at)

    def _wake_at(self, at: datetime) -> None:
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return
        with self._rescheduling:
            job = scheduler.get_job(JOB_ID)
            if job is not None and (job.next_run_time is None or at < job.next_run_time):
                scheduler.modify_job(JOB_ID, next_run_time=max(at, datetime.now(UTC)))

    # -- running -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def start(self) -> SchedulerService:
        if self.running:
            return self
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            self._wake,
            IntervalTrigger(seconds=self.poll_seconds, timezone=UTC),
            id=JOB_ID,
            next_run_time=datetime.now(UTC),  # what fell due while no scheduler ran fires now
            max_instances=2,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._scheduler = scheduler
        scheduler.start()
        self.engine.wake_hints.subscribe(self.hint)
        if self._listen and not self.engine.db.is_sqlite:
            self._listener = _PostgresListener(self.engine.db.engine.url, self.hint)
            self._listener.start()
        log.info("scheduler %s started (safety poll every %s s)", self.owner, self.poll_seconds)
        return self

    def shutdown(self, wait: bool = True) -> None:
        """Stop waking; with ``wait``, let a wake-up in progress finish first."""
        self.engine.wake_hints.unsubscribe(self.hint)
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=wait)
            log.info("scheduler %s stopped", self.owner)


class _PostgresListener(threading.Thread):
    """LISTENs on ``engine_due``; hands each announced due time to the service."""

    def __init__(self, url: Any, hint: Callable[[datetime], None]) -> None:
        super().__init__(name="engine-due-listener", daemon=True)
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.hint = hint
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def run(self) -> None:
        import psycopg

        while not self._stop_event.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Whatever was announced while not listening is covered by one wake-up now.
                    self.hint(datetime.now(UTC))
                    while not self._stop_event.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.hint(_parse(note.payload))
            except Exception:
                log.warning("lost the %s listener connection; reconnecting", CHANNEL, exc_info=True)
                self._stop_event.wait(1.0)


def _parse(payload: str) -> datetime:
    try:
        return datetime.fromisoformat(payload)
    except ValueError:
        return datetime.now(UTC)


def start_background_scheduler(engine: Engine, **options: Any) -> SchedulerService:
    """Run the scheduler in this process (``make run``); it stops when the process exits."""
    service = SchedulerService(engine, **options).start()
    atexit.register(service.shutdown, wait=False)
    return service


def run_until_stopped(engine: Engine, **options: Any) -> None:
    """Run the scheduler as this process's only work until SIGINT or SIGTERM, then stop cleanly."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    service = SchedulerService(engine, **options).start()
    try:
        while not stop.wait(timeout=timedelta(hours=1).total_seconds()):
            pass
    finally:
        service.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
