"""Flow nodes of a diagram in Camunda's vocabulary (activity types, version tag, properties)."""

from __future__ import annotations

from engine.bpmn.elements import read_process_model

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="http://example/ns">
  <bpmn:process id="p" camunda:versionTag="v7" camunda:historyTimeToLive="180">
    <bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>
    <bpmn:startEvent id="plain"/>
    <bpmn:serviceTask id="work" name="Work">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="retries" value="3"/><camunda:property name="empty"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="late" attachedToRef="work"><bpmn:timerEventDefinition/></bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="failed" attachedToRef="work"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateThrowEvent id="note"/>
    <bpmn:userTask id="each"><bpmn:multiInstanceLoopCharacteristics/></bpmn:userTask>
    <bpmn:subProcess id="sub"><bpmn:scriptTask id="inner"/></bpmn:subProcess>
    <bpmn:exclusiveGateway id="gw"/>
    <bpmn:endEvent id="e"/>
    <bpmn:endEvent id="stop"><bpmn:terminateEventDefinition/></bpmn:endEvent>
    <bpmn:endEvent id="err"><bpmn:errorEventDefinition/></bpmn:endEvent>
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="work"/>
  </bpmn:process>
  <bpmn:process id="other"><bpmn:task id="elsewhere"/></bpmn:process>
</bpmn:definitions>
"""


def test_activity_types_as_camunda_names_them() -> None:
    model = read_process_model(DIAGRAM, "p")
    types = {node_id: node.activity_type for node_id, node in model.nodes.items()}
    assert types == {
        "s": "messageStartEvent",
        "plain": "startEvent",
        "work": "serviceTask",
        "late": "boundaryTimer",
        "failed": "boundaryError",
        "wait": "intermediateTimer",
        "note": "intermediateNoneThrowEvent",
        "each": "userTask",
        "sub": "subProcess",
        "inner": "scriptTask",
        "gw": "exclusiveGateway",
        "e": "noneEndEvent",
        "stop": "terminateEndEvent",
        "err": "errorEndEvent",
    }
    assert model.nodes["each"].multi_instance and not model.nodes["work"].multi_instance
    assert model.nodes["work"].properties == {"retries": "3", "empty": ""}
    assert model.node("elsewhere") is None and model.node("f") is None


def test_process_facts() -> None:
    model = read_process_model(DIAGRAM, "p")
    assert (model.category, model.version_tag, model.history_time_to_live) == ("http://example/ns", "v7", 180)
    other = read_process_model(DIAGRAM.replace('"180"', '"P30D"'), "p")
    assert other.history_time_to_live == 30
    odd = read_process_model(DIAGRAM.replace('"180"', '"PT5H"'), "p")
    assert odd.history_time_to_live is None
    missing = read_process_model(DIAGRAM, "absent")
    assert missing.nodes == {} and missing.category == "http://example/ns"
