"""Two processes complete the same task at once: exactly one wins, the other gets a conflict."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from engine.actors import Actor
from engine.errors import Conflict
from engine.handler_registry import HandlerRegistry
from tests.conftest import FIXTURES, make_engine


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
