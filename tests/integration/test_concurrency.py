"""Two processes complete the same task at once: exactly one wins, the other gets a conflict."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.actors import Actor
from engine.errors import Conflict, Forbidden
from engine.handler_registry import HandlerRegistry
from tests.conftest import FIXTURES, _pg_url, drop_pg_database, fresh_pg_database, make_engine


def _complete(url: str, task_id: str, barrier: Any, results: Any, who: str) -> None:
    engine = make_engine(url, HandlerRegistry())
    barrier.wait()
    try:
        engine.runtime.complete_task(task_id, {"by": who}, Actor.operator(who))
        results.put((who, "ok"))
    except Conflict as exc:
        results.put((who, f"conflict: {exc.message}"))
    except Exception as exc:  # reported, so the test shows what went wrong
        results.put((who, f"error: {exc!r}"))
    finally:
        engine.close()


@pytest.mark.parametrize("round_", range(3))
def test_two_processes_complete_the_same_task(db_url: str, round_: int) -> None:
    engine = make_engine(db_url, HandlerRegistry())
    engine.deploy_paths([FIXTURES / "child.bpmn"], actor="designer")
    instance_id = engine.runtime.start(actor=Actor.operator(), process_key="child")
    [task] = engine.queries.tasks(instance_id=instance_id)
    engine.close()

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_complete, args=(db_url, task["id"], barrier, results, name))
        for name in ("first", "second")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    outcomes = dict(results.get(timeout=5) for _ in workers)
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["conflict", "ok"], outcomes

    engine = make_engine(db_url, HandlerRegistry())
    completions = engine.queries.history(instance_id=instance_id, event_type="task_completed")
    assert len(completions) == 1
    winner = next(who for who, outcome in outcomes.items() if outcome == "ok")
    assert completions[0]["actor"] == winner
    assert engine.queries.instance(instance_id)["status"] == "completed"
    assert engine.queries.verify_history()[1] == []
    engine.close()


# -- a command that read the task row just before another committed ----------------------------
# On PostgreSQL (read committed) a command's first read of the task row can predate a claim or a
# completion that was committing; its checks must see the row as that command left it. (SQLite's
# BEGIN IMMEDIATE serialises the whole transaction, so the race cannot arise there.)

ALICE = Actor.person("alice", ["finance"])
BOB = Actor.person("bob", ["finance"])


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name = fresh_pg_database(pg_template)
    try:
        yield _pg_url(name)
    finally:
        drop_pg_database(name)


class _PausedRead:
    """Holds the named thread right after its first read of a task row, until released."""

    def __init__(self, engine: Any, thread_name: str) -> None:
        self.read = threading.Event()
        self.go = threading.Event()
        original = engine.runtime._read_task

        def read_task(conn: Any, task_id: str) -> Any:
            ref = original(conn, task_id)
            if threading.current_thread().name == thread_name and not self.read.is_set():
                self.read.set()
                assert self.go.wait(20)
            return ref

        engine.runtime._read_task = read_task


def _in_thread(name: str, command: Callable[[], None]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            command()
            outcome["ok"] = True
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread, outcome


def _open_child_task(engine: Any) -> tuple[str, str]:
    engine.deploy_paths([FIXTURES / "child.bpmn"], actor="designer")
    instance_id = engine.runtime.start(actor=Actor.operator(), process_key="child")
    [task] = engine.queries.tasks(instance_id=instance_id)
    return instance_id, task["id"]


@pytest.mark.postgres
@pytest.mark.parametrize("first", ["claim", "complete"])
def test_a_claim_that_read_the_task_before_another_command_committed_is_refused(
    pg_url: str, first: str
) -> None:
    engine = make_engine(pg_url, HandlerRegistry())
    instance_id, task_id = _open_child_task(engine)
    paused = _PausedRead(engine, "bob")
    thread, outcome = _in_thread("bob", lambda: engine.runtime.claim(task_id, BOB))
    assert paused.read.wait(20)
    if first == "claim":
        engine.runtime.claim(task_id, ALICE)
    else:
        engine.runtime.complete_task(task_id, {}, ALICE)
    paused.go.set()
    thread.join(20)

    assert isinstance(outcome.get("error"), Conflict), outcome
    task = engine.queries.task(task_id)
    assert (task["state"], task["assignee"]) == (
        ("open", "alice") if first == "claim" else ("completed", None)
    )
    claims = engine.queries.history(instance_id=instance_id, event_type="task_claimed")
    assert [event["actor"] for event in claims] == (["alice"] if first == "claim" else [])
    engine.close()


@pytest.mark.postgres
def test_a_completion_that_read_the_task_before_it_was_claimed_checks_the_claim(pg_url: str) -> None:
    engine = make_engine(pg_url, HandlerRegistry())
    instance_id, task_id = _open_child_task(engine)
    paused = _PausedRead(engine, "bob")
    thread, outcome = _in_thread("bob", lambda: engine.runtime.complete_task(task_id, {}, BOB))
    assert paused.read.wait(20)
    engine.runtime.claim(task_id, ALICE)
    paused.go.set()
    thread.join(20)

    assert isinstance(outcome.get("error"), Forbidden), outcome
    task = engine.queries.task(task_id)
    assert (task["state"], task["assignee"]) == ("open", "alice")
    assert engine.queries.history(instance_id=instance_id, event_type="task_completed") == []
    engine.close()
