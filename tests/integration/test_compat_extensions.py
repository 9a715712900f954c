"""Camunda extensions that change how a case runs.

Listeners, commit points, who may start a process, Camunda 8's assignment.

Each test deploys a small diagram as Camunda Modeler writes it and drives it on SQLite and
PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.actors import Actor
from engine.bpmn.validation import SourceFile
from engine.engine import Engine
from engine.errors import DefinitionError, Forbidden
from engine.handler_registry import HandlerContext, HandlerRegistry
from engine.models import Subscription
from engine.scheduler.service import SchedulerService

OPERATOR = Actor.operator("operator")
AGENT = Actor.person("ann", ["agent"])


def diagram(body: str, process_attributes: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="p" isExecutable="true" {process_attributes}>
{body}
  </bpmn:process>
</bpmn:definitions>""".encode()


def deploy(engine: Engine, body: str, process_attributes: str = "") -> None:
    engine.deployer.deploy([SourceFile("p.bpmn", diagram(body, process_attributes))], actor="designer")


def refusals(engine: Engine, body: str) -> list[str]:
    with pytest.raises(DefinitionError) as refused:
        deploy(engine, body)
    return [p.message for p in refused.value.problems]


def recorder(handlers: HandlerRegistry, calls: list[str], *names: str) -> None:
    for name in names:

        def record(ctx: HandlerContext, name: str = name) -> dict[str, Any]:
            calls.append(name)
            return {f"seen_{len(calls)}": name}

        handlers.register(name, record)


LISTENED = """
<bpmn:extensionElements>
  <camunda:executionListener event="start" delegateExpression="${processStarted}"/>
</bpmn:extensionElements>
<bpmn:startEvent id="start"/>
<bpmn:userTask id="review" name="Review">
  <bpmn:extensionElements>
    <camunda:executionListener event="start" delegateExpression="${beforeReview}"/>
    <camunda:taskListener event="create" expression="${audit.log(task)}"/>
    <camunda:taskListener event="complete" delegateExpression="${reviewDone}"/>
    <camunda:executionListener event="end">
      <camunda:script scriptFormat="python">ended = True</camunda:script>
    </camunda:executionListener>
  </bpmn:extensionElements>
</bpmn:userTask>
<bpmn:exclusiveGateway id="choice" default="low"/>
<bpmn:endEvent id="end_high"/>
<bpmn:endEvent id="end_low"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="choice"/>
<bpmn:sequenceFlow id="high" sourceRef="choice" targetRef="end_high">
  <bpmn:extensionElements>
    <camunda:executionListener event="take" delegateExpression="${tookHigh}"/>
  </bpmn:extensionElements>
  <bpmn:conditionExpression>${amount &gt; 100}</bpmn:conditionExpression>
</bpmn:sequenceFlow>
<bpmn:sequenceFlow id="low" sourceRef="choice" targetRef="end_low"/>
"""


LISTENER_HANDLERS = ("processStarted", "beforeReview", "${audit.log(task)}", "reviewDone", "tookHigh")


def test_listeners_run_as_steps_around_their_element(engine: Engine, handlers: HandlerRegistry) -> None:
    calls: list[str] = []
    recorder(handlers, calls, *LISTENER_HANDLERS)
    deploy(engine, LISTENED)
    instance_id = engine.runtime.start(actor=OPERATOR, process_key="p", variables={"amount": 500})
    assert calls == ["processStarted", "beforeReview", "${audit.log(task)}"]
    [task] = engine.queries.tasks(instance_id=instance_id)
    assert task["element_id"] == "review"
    engine.runtime.complete_task(task["id"], {}, OPERATOR)
    assert calls[3:] == ["reviewDone", "tookHigh"]
    instance = engine.queries.instance(instance_id)
    assert instance["status"] == "completed"
    assert instance["variables"]["ended"] is True  # the Python script listener
    assert instance["variables"]["seen_2"] == "beforeReview"  # a listener's result is case data


def test_a_take_listener_runs_only_on_the_flow_taken(engine: Engine, handlers: HandlerRegistry) -> None:
    calls: list[str] = []
    recorder(handlers, calls, *LISTENER_HANDLERS)
    deploy(engine, LISTENED)
    instance_id = engine.runtime.start(actor=OPERATOR, process_key="p", variables={"amount": 5})
    [task] = engine.queries.tasks(instance_id=instance_id)
    engine.runtime.complete_task(task["id"], {}, OPERATOR)
    assert "tookHigh" not in calls
    assert engine.queries.instance(instance_id)["status"] == "completed"


def test_start_and_end_events_run_their_listeners_too(engine: Engine, handlers: HandlerRegistry) -> None:
    calls: list[str] = []
    recorder(handlers, calls, "opened", "closed")
    deploy(
        engine,
        """
<bpmn:startEvent id="start">
  <bpmn:extensionElements>
    <camunda:executionListener event="start" delegateExpression="${opened}"/>
  </bpmn:extensionElements>
</bpmn:startEvent>
<bpmn:endEvent id="end">
  <bpmn:extensionElements>
    <camunda:executionListener event="end" delegateExpression="${closed}"/>
  </bpmn:extensionElements>
</bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end"/>
""",
    )
    instance_id = engine.runtime.start(actor=OPERATOR, process_key="p")
    assert calls == ["opened", "closed"]
    assert engine.queries.instance(instance_id)["status"] == "completed"


def test_listeners_that_cannot_run_are_refused_at_deploy(engine: Engine, handlers: HandlerRegistry) -> None:
    messages = refusals(
        engine,
        """
<bpmn:startEvent id="start"/>
<bpmn:userTask id="a">
  <bpmn:extensionElements>
    <camunda:taskListener event="assignment" delegateExpression="${x}"/>
    <camunda:executionListener event="start" class="org.example.Audit"/>
  </bpmn:extensionElements>
</bpmn:userTask>
<bpmn:parallelGateway id="split">
  <bpmn:extensionElements>
    <camunda:executionListener event="end" delegateExpression="${y}"/>
  </bpmn:extensionElements>
</bpmn:parallelGateway>
<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="split"/>
<bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="e1"/>
<bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="e2"/>
""",
    )
    assert any("A task listener with event 'assignment' is not supported" in m for m in messages)
    assert any("A Java class ('org.example.Audit') cannot run in this engine" in m for m in messages)
    assert any("it would run once per branch" in m for m in messages)


ASYNC = """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="charge" camunda:asyncBefore="true" camunda:delegateExpression="${charge}"/>
<bpmn:scriptTask id="check" scriptFormat="python" camunda:asyncAfter="true">
  <bpmn:script>checked = amount &gt; 0</bpmn:script>
</bpmn:scriptTask>
<bpmn:scriptTask id="divide" scriptFormat="python">
  <bpmn:script>share = 10 / amount</bpmn:script>
</bpmn:scriptTask>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="charge"/>
<bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="check"/>
<bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="divide"/>
<bpmn:sequenceFlow id="f4" sourceRef="divide" targetRef="end"/>
"""


def waiting_points(engine: Engine, instance_id: str) -> list[str]:
    with engine.db.transaction(write=False) as conn:
        rows = conn.execute(select(Subscription.element_id).where(Subscription.instance_id == instance_id))
        return [str(element) for element in rows.scalars()]


def test_async_before_and_after_are_commit_points_the_scheduler_continues_from(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    calls: list[str] = []
    recorder(handlers, calls, "charge")
    deploy(engine, ASYNC)
    scheduler = SchedulerService(engine, owner="test")
    instance_id = engine.runtime.start(actor=OPERATOR, process_key="p", variables={"amount": 5})
    # The start command committed before the service task: nothing charged yet.
    assert calls == [] and engine.queries.instance(instance_id)["status"] == "running"
    assert len(waiting_points(engine, instance_id)) == 1
    scheduler.wake_once()  # continues at once, in transactions of its own, past both points
    assert calls == ["charge"]
    instance = engine.queries.instance(instance_id)
    assert instance["status"] == "completed" and instance["variables"]["share"] == 2.0


def test_a_failure_after_a_commit_point_keeps_what_came_before(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    calls: list[str] = []
    recorder(handlers, calls, "charge")
    deploy(engine, ASYNC)
    scheduler = SchedulerService(engine, owner="test")
    instance_id = engine.runtime.start(actor=OPERATOR, process_key="p", variables={"amount": 0})
    report = scheduler.wake_once()
    # Charged and checked (committed at the point after "check"); dividing by zero failed
    # after it, so only that transaction was rolled back and the scheduler will try again.
    assert calls == ["charge"] and report.failed == 1
    instance = engine.queries.instance(instance_id)
    assert instance["status"] == "running" and instance["variables"]["checked"] is False
    assert "share" not in instance["variables"]
    assert len(waiting_points(engine, instance_id)) == 1


STARTERS = """
<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end"/>
"""


def test_only_candidate_starters_may_start_a_process(engine: Engine) -> None:
    starters = 'camunda:candidateStarterGroups="agent, dispatcher" camunda:candidateStarterUsers="tom"'
    deploy(engine, STARTERS, starters)
    assert engine.runtime.start(actor=AGENT, process_key="p")
    assert engine.runtime.start(actor=Actor.person("tom", ["technician"]), process_key="p")
    assert engine.runtime.start(actor=OPERATOR, process_key="p")  # the scheduler, an operator
    with pytest.raises(Forbidden, match="only roles agent, dispatcher and users tom may"):
        engine.runtime.start(actor=Actor.person("tim", ["technician"]), process_key="p")
    with pytest.raises(DefinitionError, match="must list names separated by commas"):
        deploy(engine, STARTERS, 'camunda:candidateStarterGroups="${groups}"')


def test_camunda_8_assignment_is_translated_at_deploy(engine: Engine) -> None:
    deploy(
        engine,
        """
<bpmn:startEvent id="start"/>
<bpmn:userTask id="decide">
  <bpmn:extensionElements>
    <zeebe:assignmentDefinition assignee="= owner" candidateGroups="clerks"/>
    <zeebe:taskSchedule dueDate="2030-01-31T10:00:00Z"/>
    <zeebe:priorityDefinition priority="= urgency * 10"/>
  </bpmn:extensionElements>
</bpmn:userTask>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
<bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
""",
    )
    with engine.db.transaction(write=False) as conn:
        definition = engine.specs.get(conn, engine.queries.definitions()[0]["id"])
    extensions = definition.spec.task_specs["decide"].extensions
    assert extensions["engine:code:assignee"] == "el_get_var('owner')"  # translated once, stored
    variables = {"owner": "mia", "urgency": 7}
    instance_id = engine.runtime.start(actor=OPERATOR, process_key="p", variables=variables)
    [task] = engine.queries.tasks(instance_id=instance_id)
    assert (task["assignee"], task["role"], task["priority"]) == ("mia", "clerks", 70)
    assert task["due_at"].startswith("2030-01-31T10:00:00")


def test_a_multi_instance_collection_may_be_an_expression(engine: Engine, handlers: HandlerRegistry) -> None:
    seen: list[Any] = []

    def ship(ctx: HandlerContext) -> dict[str, Any]:
        seen.append(ctx.variables["line"])
        return {}

    handlers.register("ship", ship)
    deploy(
        engine,
        """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="ship_lines" camunda:delegateExpression="${ship}">
  <bpmn:multiInstanceLoopCharacteristics isSequential="true"
      camunda:collection="${order.lines}" camunda:elementVariable="line"/>
</bpmn:serviceTask>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ship_lines"/>
<bpmn:sequenceFlow id="f2" sourceRef="ship_lines" targetRef="end"/>
""",
    )
    variables = {"order": {"lines": ["bolt", "nut"]}}
    instance_id = engine.runtime.start(actor=OPERATOR, process_key="p", variables=variables)
    instance = engine.queries.instance(instance_id)
    assert seen == ["bolt", "nut"] and instance["status"] == "completed"
    assert "collection_of_ship_lines" not in instance["variables"]  # a helper of the loop, removed after it
