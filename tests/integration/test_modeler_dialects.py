"""Diagrams as bpmn-js-spiffworkflow and Camunda Modeler write them both deploy and run."""

from __future__ import annotations

from typing import Any

from engine.actors import Actor
from engine.engine import Engine
from engine.handler_registry import HandlerContext, HandlerRegistry
from tests.conftest import FIXTURES


def test_spiffworkflow_extensions(engine: Engine, handlers: HandlerRegistry) -> None:
    seen: dict[str, Any] = {}

    @handlers.handler("quote_fee")
    def quote_fee(ctx: HandlerContext) -> dict[str, Any]:
        seen.update(ctx.parameters)
        return {"total": ctx.parameters["amount"] * 10}

    engine.deploy_paths([FIXTURES / "spiff_style.bpmn"], actor="designer")
    instance_id = engine.runtime.start(
        actor=Actor.operator(), process_key="spiff_style", variables={"base": 3}
    )
    assert seen == {"amount": 7}
    [task] = engine.queries.tasks(instance_id=instance_id)
    assert (task["element_id"], task["role"]) == ("review", "dispatcher")
    engine.runtime.complete_task(task["id"], {"approved": True}, Actor.person("dee", ["dispatcher"]))
    variables = engine.queries.instance(instance_id)["variables"]
    assert variables["quote"] == {"total": 70}
    assert variables["shown"] is True and variables["reviewed"] is True


def test_camunda_attributes(engine: Engine) -> None:
    engine.deploy_paths([FIXTURES / "camunda_style.bpmn"], actor="designer")
    op = Actor.operator()
    instance_id = engine.runtime.start(
        actor=op,
        process_key="camunda_style",
        variables={"owner": "mia", "due": "2026-02-01T12:00:00+00:00", "severity": 5},
    )
    [task] = engine.queries.tasks(instance_id=instance_id)
    assert (task["assignee"], task["role"], task["form_key"]) == ("mia", "service_manager", "intake")
    assert task["due_at"] == "2026-02-01T12:00:00+00:00" and task["priority"] == 55
    engine.runtime.complete_task(task["id"], {"customer": "ACME", "severity": 5}, Actor.person("mia", []))
    [check] = engine.queries.tasks(instance_id=instance_id)
    assert check["element_id"] == "director_check" and check["candidate_users"] == ["dora", "dan"]
    engine.runtime.complete_task(check["id"], {}, Actor.person("dan", []))
    assert engine.queries.instance(instance_id)["status"] == "completed"

    small = engine.runtime.start(
        actor=op,
        process_key="camunda_style",
        variables={"owner": "mia", "due": "2026-02-01T12:00:00Z", "severity": 1},
    )
    [task] = engine.queries.tasks(instance_id=small)
    engine.runtime.complete_task(task["id"], {"customer": "ACME", "severity": 1}, Actor.person("mia", []))
    assert engine.queries.instance(small)["status"] == "completed"
