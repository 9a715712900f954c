"""Bad diagrams are refused before anything is stored, each problem with its file, line and element."""

from __future__ import annotations

import pytest

from engine.actors import Actor
from engine.bpmn.validation import SourceFile
from engine.engine import Engine
from engine.errors import DefinitionError, Problem
from engine.handler_registry import HandlerRegistry
from tests.conftest import make_engine

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="d" targetNamespace="http://example.com/bpmn">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
"""
TAIL = """    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def diagram(
    body: str,
    flows: str = '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>'
    '<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>',
) -> bytes:
    return (HEAD + body + "\n" + flows + "\n" + TAIL).encode()


def refused(engine: Engine, content: bytes, name: str = "bad.bpmn") -> list[Problem]:
    with pytest.raises(DefinitionError) as error:
        engine.deployer.deploy([SourceFile(name, content)], actor="designer")
    assert engine.queries.definitions() == [], "a failed deploy must store nothing"
    assert engine.queries.history(event_type="deployed") == []
    return error.value.problems


def test_malformed_xml_reports_its_line(engine: Engine) -> None:
    content = diagram('    <bpmn:userTask id="work" name="Work">\n')  # never closed
    [problem] = refused(engine, content)
    assert problem.file == "bad.bpmn" and problem.line is not None and problem.line >= 7
    assert "well-formed" in problem.message


def test_xsd_violation_reports_line(engine: Engine) -> None:
    content = diagram(
        '    <bpmn:userTask id="work" name="Work" unknownAttribute="x"/>\n    <bpmn:bogus id="b"/>'
    )
    problems = refused(engine, content)
    assert all(p.code == "xsd" for p in problems)
    assert any(p.line == 9 for p in problems), problems


def test_unparsable_timer(engine: Engine) -> None:
    body = """    <bpmn:intermediateCatchEvent id="work" name="Wait">
      <bpmn:timerEventDefinition id="t">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT2X</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>"""
    [problem] = refused(engine, diagram(body))
    assert problem.code == "timer" and problem.element_id == "work" and problem.line == 10
    assert "PT2X" in problem.message


def test_unknown_handler(engine: Engine, handlers: HandlerRegistry) -> None:
    handlers.register("known", lambda ctx: None)
    body = '    <bpmn:serviceTask id="work" name="Call" camunda:delegateExpression="${unknown_thing}"/>'
    [problem] = refused(engine, diagram(body))
    assert problem.element_id == "work" and problem.line == 8
    assert "unknown_thing" in problem.message and "known" in problem.message


@pytest.mark.parametrize(
    "script",
    [
        "__import__('os').system('id')",
        "import os",
        "open('/etc/passwd').read()",
        "x = ().__class__.__mro__[1].__subclasses__()",
        "y = getattr(x, '__cla' + 'ss__')",
        "eval('1+1')",
        "exec('z = 1')",
    ],
)
def test_escaping_script_is_refused_at_deploy(engine: Engine, script: str) -> None:
    body = f"""    <bpmn:scriptTask id="work" name="Script" scriptFormat="python">
      <bpmn:script>a = 1
{script.replace("<", "&lt;")}</bpmn:script>
    </bpmn:scriptTask>"""
    [problem] = refused(engine, diagram(body))
    assert problem.code == "script" and problem.element_id == "work"
    assert problem.line == 10, problem  # the script's second line, in the file


def test_escaping_condition_is_refused(engine: Engine) -> None:
    body = """    <bpmn:exclusiveGateway id="work" default="f2"/>"""
    flows = """<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
<bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">__import__('os') is None
  </bpmn:conditionExpression>
</bpmn:sequenceFlow>"""
    [problem] = refused(engine, diagram(body, flows))
    assert problem.code == "script" and problem.element_id == "f3" and problem.line == 12


def test_gateway_without_conditions_or_default_is_refused(engine: Engine) -> None:
    body = """    <bpmn:exclusiveGateway id="work"/>"""
    flows = """<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
<bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end"/>"""
    [problem] = refused(engine, diagram(body, flows))
    assert problem.code == "gateway" and problem.element_id == "work" and problem.line == 8
    assert "f2, f3" in problem.message and "no default" in problem.message


def test_camunda_gateway_policy_takes_unconditioned_flows_as_true(
    db_url: str, handlers: HandlerRegistry
) -> None:
    # Camunda 7 compatibility (issue 7): deployed with a warning, a flow without condition is true.
    camunda_engine = make_engine(db_url, handlers, gateway_policy="camunda")
    body = """    <bpmn:exclusiveGateway id="work"/>"""
    flows = """<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
<bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end"/>"""
    report = camunda_engine.deployer.deploy([SourceFile("open.bpmn", diagram(body, flows))], actor="designer")
    [warning] = [w for w in report.warnings if w.code == "gateway"]
    assert warning.element_id == "work" and warning.line == 8
    instance_id = camunda_engine.runtime.start(actor=Actor.operator(), process_key="p")
    assert camunda_engine.queries.instance(instance_id)["status"] == "completed"
    camunda_engine.close()


def test_missing_form_file(engine: Engine) -> None:
    body = '    <bpmn:userTask id="work" name="Fill" camunda:formKey="no_such_form"/>'
    [problem] = refused(engine, diagram(body))
    assert problem.code == "form" and "no_such_form" in problem.message and problem.line == 8


def test_several_problems_are_reported_together(engine: Engine) -> None:
    body = """    <bpmn:serviceTask id="work" name="Call" camunda:delegateExpression="${nope}"/>
    <bpmn:scriptTask id="s" name="S"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>"""
    problems = refused(engine, diagram(body))
    assert {p.element_id for p in problems} == {"work", "s"}


def test_nothing_stored_when_one_file_of_several_is_bad(engine: Engine) -> None:
    good = diagram('    <bpmn:userTask id="work" name="Work"/>')
    bad = diagram('    <bpmn:userTask id="work" name="Work" camunda:formKey="missing"/>').replace(
        b'id="p"', b'id="q"'
    )
    with pytest.raises(DefinitionError):
        engine.deployer.deploy([SourceFile("good.bpmn", good), SourceFile("bad.bpmn", bad)], actor="designer")
    assert engine.queries.definitions() == []


def test_call_activity_to_unknown_process(engine: Engine) -> None:
    body = '    <bpmn:callActivity id="work" name="Call" calledElement="ghost"/>'
    [problem] = refused(engine, diagram(body))
    assert problem.code == "call_activity" and problem.element_id == "work" and "ghost" in problem.message


def test_not_bpmn(engine: Engine) -> None:
    [problem] = refused(engine, b"<html><body/></html>", "page.bpmn")
    assert "Not a BPMN" in problem.message and problem.line == 1
