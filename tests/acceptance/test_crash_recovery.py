"""SIGKILL the serving process between commands: every acknowledged command is kept and the
instance carries on after a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.handler_registry import HandlerRegistry
from tests.conftest import make_engine

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.slow


class Worker:
    def __init__(self, url: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.acceptance.engine_worker", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert json.loads(self._line()) == {"ready": True}
        self.next_id = 0

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the worker died"
        return line

    def send(self, **command: Any) -> int:
        assert self.process.stdin is not None
        self.next_id += 1
        self.process.stdin.write(json.dumps({"id": self.next_id, **command}) + "\n")
        self.process.stdin.flush()
        return self.next_id

    def call(self, **command: Any) -> Any:
        sent = self.send(**command)
        reply = json.loads(self._line())
        assert reply["id"] == sent and "error" not in reply, reply
        return reply["result"]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def test_acknowledged_commands_survive_sigkill(db_url: str) -> None:
    worker = Worker(db_url)
    worker.call(op="deploy", file="ten_steps.bpmn")
    instance_id = worker.call(op="start", key="ten_steps", business_key="CRASH-1")
    acknowledged = []
    for step in range(4):
        [task] = worker.call(op="tasks", instance_id=instance_id)
        worker.call(op="complete", task_id=task["id"], data={f"step{step}": step})
        acknowledged.append(task["element_id"])
    # One more command in flight when the process dies: it may or may not have committed.
    [task] = worker.call(op="tasks", instance_id=instance_id)
    worker.send(op="complete", task_id=task["id"], data={"step4": 4})
    worker.kill()

    engine = make_engine(db_url, HandlerRegistry())
    done = [
        e["element_id"] for e in engine.queries.history(instance_id=instance_id, event_type="task_completed")
    ]
    assert done[: len(acknowledged)] == acknowledged == ["t0", "t1", "t2", "t3"]
    assert len(done) in (4, 5)
    variables = engine.queries.instance(instance_id)["variables"]
    assert all(variables[f"step{i}"] == i for i in range(4))
    assert engine.queries.verify_history()[1] == []
    engine.close()

    # A fresh serving process carries the instance on to its end.
    worker = Worker(db_url)
    while True:
        tasks = worker.call(op="tasks", instance_id=instance_id)
        if not tasks:
            break
        worker.call(op="complete", task_id=tasks[0]["id"], data={})
    worker.kill()
    engine = make_engine(db_url, HandlerRegistry())
    instance = engine.queries.instance(instance_id)
    assert instance["status"] == "completed"
    completed = [
        e["element_id"] for e in engine.queries.history(instance_id=instance_id, event_type="task_completed")
    ]
    assert completed == [f"t{i}" for i in range(10)]
    assert engine.queries.verify_history()[1] == []
    engine.close()


def test_engine_survives_repeated_kills(sqlite_url: str) -> None:
    worker = Worker(sqlite_url)
    worker.call(op="deploy", file="ten_steps.bpmn")
    instance_id = worker.call(op="start", key="ten_steps")
    for _round in range(3):
        [task] = worker.call(op="tasks", instance_id=instance_id)
        worker.call(op="complete", task_id=task["id"], data={})
        worker.kill()
        worker = Worker(sqlite_url)
    tasks = worker.call(op="tasks", instance_id=instance_id)
    assert [t["element_id"] for t in tasks] == ["t3"]
    worker.kill()
