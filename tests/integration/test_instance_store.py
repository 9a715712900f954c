"""The store writes only what changed: what it holds must always be the whole workflow.

After every command the stored rows (the instance's state and one row per task) must equal a
full conversion of the live workflow made from scratch, with no remembered dicts; and an
instance restored from those rows must carry on the same. These tests guard the shortcuts that
keep saving cheap (remembered task dicts, workflow state converted without its tasks).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.actors import Actor
from engine.bpmn.serializer import _MEMO
from engine.engine import Engine
from engine.instance_store import LiveInstance
from engine.models import Instance, TaskState

AGENT = Actor.operator("tester")

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="Definitions_store" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="store_check" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:userTask id="a" name="A"/>
    <bpmn:subProcess id="sub" name="Sub">
      <bpmn:startEvent id="s_start"/>
      <bpmn:userTask id="s_task" name="In sub"/>
      <bpmn:endEvent id="s_end"/>
      <bpmn:sequenceFlow id="sf1" sourceRef="s_start" targetRef="s_task"/>
      <bpmn:sequenceFlow id="sf2" sourceRef="s_task" targetRef="s_end"/>
    </bpmn:subProcess>
    <bpmn:parallelGateway id="join"/>
    <bpmn:userTask id="each" name="Each">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>3</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:userTask id="last" name="Last"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="a"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="sub"/>
    <bpmn:sequenceFlow id="f4" sourceRef="a" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="sub" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="each"/>
    <bpmn:sequenceFlow id="f7" sourceRef="each" targetRef="last"/>
    <bpmn:sequenceFlow id="f8" sourceRef="last" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _live(engine: Engine, instance_id: str) -> LiveInstance:
    with engine.db.transaction(write=False) as conn:
        version = conn.execute(select(Instance.version).where(Instance.id == instance_id)).scalar_one()
    live = engine.store.cache.take(instance_id, version)
    if live is None:  # not cached: restored from its rows, which must then convert back to them
        return _live_after_load(engine, instance_id)
    engine.store.cache.put(live)
    return live


def _all_tasks(live: LiveInstance) -> list[Any]:
    workflow = live.workflow
    subtasks = (task for sub in workflow.subprocesses.values() for task in sub.tasks.values())
    return [*workflow.tasks.values(), *subtasks]


def _from_scratch(engine: Engine, live: LiveInstance) -> tuple[Any, dict[str, Any]]:
    """A full conversion of the live workflow with every remembered dict set aside."""
    tasks = _all_tasks(live)
    memos = {id(task): task.__dict__.pop(_MEMO, None) for task in tasks}
    try:
        state, converted = engine.store._split(live.workflow)
    finally:
        for task in tasks:
            task.__dict__.pop(_MEMO, None)
            if memos[id(task)] is not None:
                task.__dict__[_MEMO] = memos[id(task)]
    fresh = json.loads(json.dumps({"state": state, "tasks": {k: v[0] for k, v in converted.items()}}))
    return fresh["state"], fresh["tasks"]


def _stored(engine: Engine, instance_id: str) -> tuple[Any, dict[str, Any]]:
    with engine.db.transaction(write=False) as conn:
        state = conn.execute(select(Instance.state).where(Instance.id == instance_id)).scalar_one()
        rows = conn.execute(
            select(TaskState.task_id, TaskState.body).where(TaskState.instance_id == instance_id)
        ).all()
    return json.loads(state), {task_id: json.loads(body) for task_id, body in rows}


def assert_stored_is_whole(engine: Engine, instance_id: str) -> None:
    state, tasks = _from_scratch(engine, _live(engine, instance_id))
    stored_state, stored_tasks = _stored(engine, instance_id)
    assert stored_state == state
    assert stored_tasks.keys() == tasks.keys()
    for task_id, dct in tasks.items():
        assert stored_tasks[task_id] == dct, f"task {task_id} ({dct['task_spec']}) is stale in the store"


def _open_tasks(engine: Engine, instance_id: str) -> list[dict[str, Any]]:
    return engine.queries.tasks(instance_id=instance_id)


def test_stored_rows_equal_a_full_conversion_after_every_command(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "store_check.bpmn"
    path.write_text(PROCESS)
    engine.deploy_paths([path], actor="designer")
    instance_id = engine.runtime.start(actor=AGENT, process_key="store_check", variables={"n": 0})
    assert_stored_is_whole(engine, instance_id)
    step = 0
    while tasks := _open_tasks(engine, instance_id):
        step += 1
        engine.runtime.complete_task(tasks[-1]["id"], {"n": step, f"v{step}": [step]}, AGENT)
        assert_stored_is_whole(engine, instance_id)
        if step % 2 == 0:
            # Every other command starts from the rows alone.
            engine.store.cache.clear()
            if still_open := _open_tasks(engine, instance_id):
                engine.runtime.claim(still_open[0]["id"], AGENT)
            assert_stored_is_whole(engine, instance_id)
    assert step >= 6
    assert engine.queries.instance(instance_id)["status"] == "completed"


def test_data_changed_in_place_without_a_state_change_is_written(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "store_check.bpmn"
    path.write_text(PROCESS)
    engine.deploy_paths([path], actor="designer")
    variables = {"items": [1], "n": 0}
    instance_id = engine.runtime.start(actor=AGENT, process_key="store_check", variables=variables)
    live = _live(engine, instance_id)
    ready = next(t for t in _all_tasks(live) if t.task_spec.name == "a")
    state_before = ready.state
    # Same keys, same task state: only the values differ, one of them inside a nested list.
    ready.data["items"].append(2)
    ready.data["n"] = 5
    # A claim saves the instance without moving the workflow.
    engine.runtime.claim(str(ready.id), AGENT)
    assert ready.state == state_before
    assert_stored_is_whole(engine, instance_id)
    engine.store.cache.clear()
    restored = _live_after_load(engine, instance_id)
    again = next(t for t in _all_tasks(restored) if t.task_spec.name == "a")
    assert again.data["items"] == [1, 2] and again.data["n"] == 5


def _live_after_load(engine: Engine, instance_id: str) -> LiveInstance:
    with engine.db.transaction() as conn:
        return engine.store.load(conn, instance_id)


def test_data_changed_in_place_inside_a_value_already_stored_is_written(
    engine: Engine, tmp_path: Path
) -> None:
    # The remembered dict of a task holds its data's values (the delta against its parent), not
    # copies: once a value differs from the parent's, a change inside it changed the remembered
    # dict too, and comparing the two found nothing to write.
    path = tmp_path / "store_check.bpmn"
    path.write_text(PROCESS)
    engine.deploy_paths([path], actor="designer")
    instance_id = engine.runtime.start(actor=AGENT, process_key="store_check", variables={"items": [1]})
    live = _live(engine, instance_id)
    ready = next(t for t in _all_tasks(live) if t.task_spec.name == "a")
    ready.data["items"] = [1, 2]  # now in the task's stored delta
    engine.runtime.claim(str(ready.id), AGENT)
    assert_stored_is_whole(engine, instance_id)
    ready.data["items"].append(3)  # in place, no change of state
    engine.runtime.unclaim(str(ready.id), AGENT)
    assert_stored_is_whole(engine, instance_id)
    engine.store.cache.clear()
    restored = _live_after_load(engine, instance_id)
    again = next(t for t in _all_tasks(restored) if t.task_spec.name == "a")
    assert again.data["items"] == [1, 2, 3]


NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="Definitions_nested" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="nested_check" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="first" name="First"/>
    <bpmn:scriptTask id="script" scriptFormat="python">
      <bpmn:script>order["lines"].append(2)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="second" name="Second"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="script"/>
    <bpmn:sequenceFlow id="f3" sourceRef="script" targetRef="second"/>
    <bpmn:sequenceFlow id="f4" sourceRef="second" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_script_changing_a_nested_value_is_written(engine: Engine, tmp_path: Path) -> None:
    # A task inherits its parent's data with shallow copies in SpiffWorkflow: the nested list
    # was shared with the tasks of earlier commands, whose remembered dicts are not converted
    # again, and the script task's delta against them was empty: the append was stored nowhere.
    path = tmp_path / "nested_check.bpmn"
    path.write_text(NESTED)
    engine.deploy_paths([path], actor="designer")
    instance_id = engine.runtime.start(
        actor=AGENT, process_key="nested_check", variables={"order": {"lines": [1]}}
    )
    engine.runtime.complete_task(_open_tasks(engine, instance_id)[0]["id"], {}, AGENT)
    assert_stored_is_whole(engine, instance_id)
    engine.store.cache.clear()
    restored = _live_after_load(engine, instance_id)
    second = next(t for t in _all_tasks(restored) if t.task_spec.name == "second")
    assert second.data["order"]["lines"] == [1, 2]
    first = next(t for t in _all_tasks(restored) if t.task_spec.name == "first")
    assert first.data["order"]["lines"] == [1]  # what the first task ended with
    engine.runtime.complete_task(_open_tasks(engine, instance_id)[0]["id"], {}, AGENT)
    assert engine.queries.instance(instance_id)["status"] == "completed"
