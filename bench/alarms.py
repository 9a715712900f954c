"""Alarm lateness and wake-up cost of the scheduler with 100,000 open tasks.

Two measurements, each on a fresh database (a temporary SQLite file, or a database created on the
PostgreSQL server ``--postgres`` names):

1. Wake-up cost: the time of one wake-up that finds 200 SLA stages due, with 1,000 open tasks and
   again with 100,000 (a manual clock, so only the table size changes), and the time of the
   query that finds the next due time. The work of a wake-up should grow with the due rows,
   not with the open ones.
2. Lateness: 100,000 open tasks whose deadlines are spread over the next minutes; the scheduler
   runs for real (APScheduler, system clock) and every alarm's lateness is taken from its due
   time to the moment its transaction had committed. Prints p50, p99 and max in milliseconds.

The task rows, their instances and their SLA clock rows are bulk-inserted (100,000 engine commands
would take longer than the measurement), with the clock rows built by the engine's own planner;
every alarm is raised through the real mechanism: wake-up, claim with a lease, engine command.

    python bench/alarms.py [--tasks N] [--spread SECONDS] [--postgres SERVER_URL]

Last line: ``p99_ms X``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, func, insert, select, update  # noqa: E402

from engine.bpmn.validation import SourceFile  # noqa: E402
from engine.clock import Clock, ManualClock, SystemClock  # noqa: E402
from engine.db import Database, normalize_url  # noqa: E402
from engine.engine import Engine, EngineConfig  # noqa: E402
from engine.handler_registry import HandlerRegistry  # noqa: E402
from engine.history import GENESIS  # noqa: E402
from engine.models import Definition, Instance  # noqa: E402
from engine.models import Task as TaskRow  # noqa: E402
from engine.scheduler.clocks import clock_row  # noqa: E402
from engine.scheduler.deadlines import DeadlinePlanner  # noqa: E402
from engine.scheduler.due_work import Fired  # noqa: E402
from engine.scheduler.models import Alarm, SlaClockRow  # noqa: E402
from engine.scheduler.service import SchedulerService  # noqa: E402
from engine.schema import upgrade  # noqa: E402
from engine.task_rows import TaskRowInfo  # noqa: E402

PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_bench"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="bench" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="handle" name="Handle the case" camunda:candidateGroups="agent"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""
TASKS_PER_CASE = 10
_SHOW_DUE = update(TaskRow).where(TaskRow.id == bindparam("t_id")).values(due_at=bindparam("due"))
CHUNK = 5000
DUE_PER_WAKE = 200


def fresh_engine(server: str | None, clock: Clock, workdir: Path, name: str) -> Engine:
    db_url = _fresh_postgres(server, name) if server else f"sqlite:///{workdir / name}"
    database = Database(db_url)
    upgrade(database)
    database.dispose()
    engine = Engine(
        EngineConfig(database_url=db_url, forms_dir=None), handlers=HandlerRegistry(), clock=clock
    )
    engine.deployer.deploy([SourceFile("bench.bpmn", PROCESS)], actor="bench")
    return engine


def _fresh_postgres(server: str, name: str) -> str:
    """A new database on the PostgreSQL server ``server`` names, dropped when the bench exits."""
    import atexit

    import psycopg

    database = f"bench_{name.split('.')[0]}_{uuid.uuid4().hex[:8]}"
    admin = normalize_url(server).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    atexit.register(drop)
    return f"{admin.rsplit('/', 1)[0]}/{database}"


class Loader:
    """Bulk-inserts open user tasks with SLA clocks, as the stepper and the deadline keeper would."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.planner = DeadlinePlanner(None)
        with engine.db.transaction(write=False) as conn:
            self.definition_id = conn.execute(select(Definition.id)).scalar_one()
        self.count = 0

    def add(self, created: datetime, dues: list[datetime]) -> None:
        """One open task per due time, ten to a case, each with its SLA clock."""
        self.start_clocks(self.open_tasks(created, len(dues)), created, dues)

    def open_tasks(self, created: datetime, count: int) -> list[tuple[TaskRowInfo, str]]:
        opened: list[tuple[TaskRowInfo, str]] = []
        for start in range(0, count, CHUNK):
            instances, tasks = [], []
            case_id = ""
            for _ in range(min(CHUNK, count - start)):
                if self.count % TASKS_PER_CASE == 0:
                    case_id = str(uuid.uuid4())
                    instances.append(self._instance(case_id, created))
                self.count += 1
                info = TaskRowInfo(
                    id=str(uuid.uuid4()),
                    kind="user",
                    element_id="handle",
                    name="Handle the case",
                    documentation=None,
                    role="agent",
                    candidate_users=None,
                    assignee=None,
                    form_key=None,
                    priority=50,
                    due_at=None,
                    topic=None,
                )
                tasks.append(self._task(info, case_id, created))
                opened.append((info, case_id))
            with self.engine.db.transaction() as conn:
                if instances:
                    conn.execute(insert(Instance), instances)
                conn.execute(insert(TaskRow), tasks)
        return opened

    def start_clocks(
        self, tasks: list[tuple[TaskRowInfo, str]], created: datetime, dues: list[datetime]
    ) -> None:
        """Clock rows from the engine's planner (deadline only, so one alarm per task); the task shows it."""
        for start in range(0, len(tasks), CHUNK):
            clocks, shown = [], []
            for (info, case_id), due in zip(
                tasks[start : start + CHUNK], dues[start : start + CHUNK], strict=True
            ):
                plan = self.planner.plan("bench", "handle", "agent", None, created, diagram_due=due)
                assert plan is not None
                clocks.append(clock_row(info, case_id, plan))
                shown.append({"t_id": info.id, "due": due})
            with self.engine.db.transaction() as conn:
                conn.execute(insert(SlaClockRow), clocks)
                conn.execute(_SHOW_DUE, shown)

    def _instance(self, case_id: str, created: datetime) -> dict[str, Any]:
        return {
            "id": case_id,
            "definition_id": self.definition_id,
            "process_key": "bench",
            "business_key": f"B-{self.count // TASKS_PER_CASE}",
            "status": "running",
            "suspended": False,
            "incidents": 0,
            "started_at": created,
            "started_by": "bench",
            "ended_at": None,
            "version": 1,
            "serializer_version": "bench",
            "state": "{}",
            "variables": "{}",
            "next_task_pos": 0,
            "history_seq": 0,
            "history_head": GENESIS,
        }

    def _task(self, info: TaskRowInfo, case_id: str, created: datetime) -> dict[str, Any]:
        return {
            "id": info.id,
            "instance_id": case_id,
            "definition_id": self.definition_id,
            "process_key": "bench",
            "business_key": None,
            "element_id": info.element_id,
            "name": info.name,
            "documentation": None,
            "kind": "user",
            "state": "open",
            "role": info.role,
            "candidate_users": None,
            "assignee": None,
            "owner": None,
            "form_key": None,
            "priority": 50,
            "created_at": created,
            "due_at": None,
            "ended_at": None,
            "ended_by": None,
            "topic": None,
            "worker_id": None,
            "lock_expires_at": None,
            "retries": None,
            "error_message": None,
        }


def timed_wake(service: SchedulerService) -> tuple[float, int]:
    began = time.perf_counter()
    report = service.wake_once()
    return (time.perf_counter() - began) * 1000, len(report.fired)


def next_due_ms(engine: Engine, rounds: int = 200) -> float:
    began = time.perf_counter()
    for _ in range(rounds):
        engine.due.next_due()
    return (time.perf_counter() - began) * 1000 / rounds


def settle(engine: Engine) -> None:
    """After a bulk load: SQLite folds its log into the file, PostgreSQL refreshes its statistics,
    so a measurement sees the steady state rather than the load's aftermath."""
    with engine.db.engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        if engine.db.is_sqlite:
            # On the driver itself: SQLAlchemy would open a transaction first, and a checkpoint
            # cannot run inside one.
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            driver.autocommit = True
            driver.execute("ANALYZE")
            driver.autocommit = False


def wake_cost(url: str | None, workdir: Path, total: int, rounds: int = 5) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    engine = fresh_engine(url, clock, workdir, "wake.sqlite3")
    loader = Loader(engine)
    service = SchedulerService(engine, owner="bench-wake")
    far = clock.now() + timedelta(days=30)

    def measure() -> tuple[float, float]:
        settle(engine)
        costs = []
        for round_ in range(rounds + 1):
            # Those due now were "created" a minute ago with a deadline of a second ago.
            loader.add(
                clock.now() - timedelta(minutes=1), [clock.now() - timedelta(seconds=1)] * DUE_PER_WAKE
            )
            cost, fired = timed_wake(service)
            assert fired == DUE_PER_WAKE, fired
            if round_:  # the first round warms the statement caches up
                costs.append(cost)
        return statistics.median(costs), next_due_ms(engine)

    loader.add(clock.now(), [far + timedelta(seconds=i) for i in range(1000)])
    small = measure()
    loader.add(clock.now(), [far + timedelta(seconds=i) for i in range(1000, total)])
    large = measure()
    engine.close()
    for count, (cost, lookup) in ((1000, small), (total, large)):
        print(
            f"wake-up raising {DUE_PER_WAKE} due stages with {count:>7,} open tasks: {cost:7.1f} ms "
            f"(median of {rounds}); next-due lookup {lookup:.3f} ms"
        )
    print(f"wake-up cost at {total:,} / at 1,000 open tasks: {large[0] / small[0]:.2f}")


def lateness(url: str | None, workdir: Path, total: int, spread: float) -> list[float]:
    engine = fresh_engine(url, SystemClock(), workdir, "late.sqlite3")
    loader = Loader(engine)
    began = time.perf_counter()
    created = datetime.now(UTC)
    tasks = loader.open_tasks(created, total)
    # The clock rows take about as long as the task rows: the first deadline comes after them.
    lead = (time.perf_counter() - began) * 1.5 + 5
    base = datetime.now(UTC) + timedelta(seconds=lead)
    loader.start_clocks(tasks, created, [base + timedelta(seconds=spread * i / total) for i in range(total)])
    ready = datetime.now(UTC)
    print(
        f"loaded {total:,} open tasks in {time.perf_counter() - began:.1f} s; deadlines over {spread:.0f} s "
        f"from {(base - ready).total_seconds():.1f} s after loading"
    )

    late: list[float] = []
    done = threading.Event()

    def fired(item: Fired) -> None:
        late.append((item.committed_at - item.due_at).total_seconds() * 1000)
        if len(late) >= total:
            done.set()

    service = SchedulerService(engine, owner="bench-late", on_fired=fired).start()
    try:
        done.wait(timeout=lead + spread + 300)
    finally:
        service.shutdown()
    with engine.db.transaction(write=False) as conn:
        alarms = conn.execute(select(func.count()).select_from(Alarm)).scalar_one()
    engine.close()
    print(f"alarms raised: {alarms:,} of {total:,}")
    return late


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000, help="open tasks (default 100,000)")
    parser.add_argument("--spread", type=float, default=180.0, help="seconds the deadlines spread over")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="measure on this PostgreSQL server (e.g. postgresql://postgres@127.0.0.1/postgres): the bench "
        "creates and drops a database per measurement; default: temporary SQLite files",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(
            f"database: {'PostgreSQL ' + args.postgres if args.postgres else 'SQLite (WAL), temporary files'}"
        )
        wake_cost(args.postgres, workdir, args.tasks)
        late = lateness(args.postgres, workdir, args.tasks, args.spread)
    if not late:
        print("no alarm fired")
        print("p99_ms nan")
        return
    print(
        f"lateness (due → committed), {len(late):,} alarms: p50 {percentile(late, 0.5):.1f} ms, "
        f"p99 {percentile(late, 0.99):.1f} ms, max {max(late):.1f} ms, mean {statistics.fmean(late):.1f} ms"
    )
    print(
        json.dumps(
            {
                "p50_ms": round(percentile(late, 0.5), 1),
                "p99_ms": round(percentile(late, 0.99), 1),
                "max_ms": round(max(late), 1),
            }
        )
    )
    print(f"p99_ms {percentile(late, 0.99):.1f}")


if __name__ == "__main__":
    main()
