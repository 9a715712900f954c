"""Engine throughput and footprint against SpiffWorkflow alone, measured in one run.

Prints task completions per second through the engine (SQLite file, WAL, with history,
task rows and instance state persisted per command) and through SpiffWorkflow in memory
with no persistence, on the same 10-task process; the bytes stored per instance; and the
peak memory of the engine process as open instances grow to 20,000. Last line: ``ratio X``
(persisted ÷ in-memory completions per second).

    python bench/engine.py [--instances N] [--open N]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.sqlite_meter import SqliteMeter  # noqa: E402
from engine.actors import Actor  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.engine import Engine, EngineConfig  # noqa: E402
from engine.handler_registry import HandlerRegistry  # noqa: E402
from engine.models import HistoryEvent, Instance  # noqa: E402
from engine.models import Task as TaskRow  # noqa: E402
from engine.models import TaskState as TaskStateRow  # noqa: E402
from engine.schema import upgrade  # noqa: E402

PROCESS = ROOT / "tests" / "fixtures" / "ten_steps.bpmn"


def in_memory(instances: int) -> float:
    parser = BpmnParser()
    parser.add_bpmn_file(str(PROCESS))
    spec = parser.get_spec("ten_steps")
    completions, elapsed = 0, 0.0
    for i in range(instances):
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        while True:
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            began = time.perf_counter()
            ready[0].data["value"] = i
            ready[0].run()
            workflow.do_engine_steps()
            elapsed += time.perf_counter() - began
            completions += 1
    return completions / elapsed


def persisted(engine: Engine, instances: int, meter: SqliteMeter | None = None) -> float:
    actor = Actor.operator("bench")
    completions, elapsed = 0, 0.0
    for i in range(instances):
        instance_id = engine.runtime.start(actor=actor, process_key="ten_steps", business_key=f"B-{i}")
        while True:
            tasks = engine.queries.tasks(instance_id=instance_id, limit=1)
            if not tasks:
                break
            began = time.perf_counter()
            if meter is None:
                engine.runtime.complete_task(tasks[0]["id"], {"value": i}, actor)
            else:
                with meter.measuring():
                    engine.runtime.complete_task(tasks[0]["id"], {"value": i}, actor)
            elapsed += time.perf_counter() - began
            completions += 1
    return completions / elapsed


def rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux: the peak so far, which is what the target is about.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def new_engine(path: Path) -> Engine:
    url = f"sqlite:///{path}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    engine = Engine(EngineConfig(database_url=url, forms_dir=None), handlers=HandlerRegistry())
    engine.deploy_paths([PROCESS], actor="bench")
    return engine


def sqlite_floor(folder: Path, instances: int, memory_rate: float) -> None:
    """What SQLite alone costs a completion here, and the best ratio that leaves (see sqlite_meter)."""
    meter = SqliteMeter(str(folder / "metered.sqlite3"))
    meter.install()
    engine = new_engine(Path(meter.path))
    persisted(engine, 20)
    persisted(engine, instances, meter)
    engine.close()
    sqlite_us = meter.seconds / meter.commands * 1e6
    commit_us = meter.commit_seconds / meter.commands * 1e6
    memory_us = 1e6 / memory_rate
    print(
        f"time inside SQLite per completion: {sqlite_us:,.0f} us (commit {commit_us:,.0f} us), "
        f"against {memory_us:,.0f} us for the whole step in memory"
    )
    print(
        "best ratio with no Python cost at all besides SpiffWorkflow's: "
        f"{memory_us / (memory_us + sqlite_us):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=300, help="instances run to completion per side")
    parser.add_argument("--open", type=int, default=20000, help="open instances for the memory figure")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    engine = new_engine(folder / "bench.sqlite3")

    # Warm both paths, then measure each twice, interleaved, and keep the better run of each:
    # the machine is shared, and this halves the noise from other load.
    in_memory(20)
    persisted(engine, 20)
    memory_rates, engine_rates = [], []
    for _ in range(2):
        memory_rates.append(in_memory(args.instances))
        engine_rates.append(persisted(engine, args.instances))
    memory_rate, engine_rate = max(memory_rates), max(engine_rates)
    print(f"in-memory SpiffWorkflow: {memory_rate:,.0f} task completions/s")
    print(f"engine (SQLite WAL, history, task rows): {engine_rate:,.0f} task completions/s")
    sqlite_floor(folder, args.instances, memory_rate)

    with engine.db.transaction(write=False) as conn:
        done = conn.execute(select(Instance.id).where(Instance.status == "completed").limit(1)).scalar_one()
        state_bytes = engine.store.bytes_stored(conn, done)
        history_bytes = conn.execute(
            select(func.sum(func.length(HistoryEvent.data) + 400)).where(HistoryEvent.instance_id == done)
        ).scalar_one()
        task_rows = conn.execute(
            select(func.count()).select_from(TaskRow).where(TaskRow.instance_id == done)
        ).scalar_one()
        task_states = conn.execute(
            select(func.count()).select_from(TaskStateRow).where(TaskStateRow.instance_id == done)
        ).scalar_one()
    print(
        f"bytes stored per completed instance: {state_bytes:,} state ({task_states} task states) "
        f"+ ~{history_bytes:,} history + {task_rows} task rows"
    )

    actor = Actor.operator("bench")
    gc.collect()
    checkpoints = {args.open // 4, args.open // 2, args.open}
    began = time.perf_counter()
    for i in range(1, args.open + 1):
        engine.runtime.start(actor=actor, process_key="ten_steps", business_key=f"OPEN-{i}")
        if i in checkpoints:
            print(
                f"open instances {i:>6,}: RSS {current_rss_mb():6.1f} MB (peak {rss_mb():6.1f} MB), "
                f"live cache {len(engine.store.cache)}"
            )
    print(f"started {args.open:,} instances in {time.perf_counter() - began:.1f}s")
    print(f"peak RSS with {args.open:,} open instances: {rss_mb():.1f} MB (target < 400 MB)")
    engine.close()
    print(f"ratio {engine_rate / memory_rate:.2f}")


if __name__ == "__main__":
    main()
