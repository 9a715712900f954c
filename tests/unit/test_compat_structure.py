"""Bindings and the structural rewrites of diagrams drawn by other tools."""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine.bpmn.bindings import KIND_EXTERNAL, KIND_HANDLER, Binding, binding_of
from engine.bpmn.camunda_io import read_mapping
from engine.bpmn.normalize import normalize
from engine.expressions import EL_FUNCTIONS
from engine.sandbox import SAFE_BUILTINS, check_source

HEAD = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:activiti="http://activiti.org/bpmn" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">'
)


def doc(body: str) -> etree._Element:
    return etree.fromstring(f'{HEAD}<bpmn:process id="p">{body}</bpmn:process></bpmn:definitions>'.encode())


def node(body: str) -> etree._Element:
    return doc(body)[0][0]


def bound(body: str) -> Binding:
    binding = binding_of(node(body))
    assert binding is not None
    return binding


def test_bindings_cover_what_modelers_write() -> None:
    assert bound('<bpmn:serviceTask id="s" camunda:delegateExpression="${mailer}"/>').name == "mailer"
    java = bound('<bpmn:serviceTask id="s" activiti:class="org.x.Mail"/>')
    assert (java.kind, java.name, java.how) == (KIND_HANDLER, "org.x.Mail", "camunda:class")
    external = bound('<bpmn:serviceTask id="s" camunda:type="external" camunda:topic="pay"/>')
    assert (external.kind, external.name) == (KIND_EXTERNAL, "pay")
    job = bound(
        '<bpmn:serviceTask id="s"><bpmn:extensionElements><zeebe:taskDefinition type="mail"/>'
        '<zeebe:taskHeaders><zeebe:header key="to" value="x"/></zeebe:taskHeaders>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    assert (job.kind, job.name, job.parameters) == (KIND_EXTERNAL, "mail", (("to", "x"),))
    bare = bound('<bpmn:serviceTask id="archive"/>')
    assert bare.name == "archive" and bare.implicit
    assert bound('<bpmn:businessRuleTask id="rules"/>').name == "rules"
    assert binding_of(node('<bpmn:businessRuleTask id="r" camunda:decisionRef="d1"/>')) is None
    deployed = binding_of(node('<bpmn:businessRuleTask id="r" camunda:decisionRef="d1"/>'), {"d1"})
    assert deployed is None
    # A decision not deployed with the diagram is run by the handler registered under its id.
    elsewhere = binding_of(node('<bpmn:businessRuleTask id="r" camunda:decisionRef="d1"/>'), set())
    assert elsewhere is not None and (elsewhere.kind, elsewhere.name) == (KIND_HANDLER, "d1")
    assert binding_of(node('<bpmn:scriptTask id="py" scriptFormat="python"/>')) is None
    assert bound('<bpmn:scriptTask id="js" scriptFormat="javascript"/>').name == "js"
    assert binding_of(node('<bpmn:sendTask id="m" messageRef="msg"/>')) is None
    assert binding_of(node('<bpmn:userTask id="u"/>')) is None


def test_process_without_start_event_starts_every_node_without_incoming_flow() -> None:
    tree = doc(
        '<bpmn:task id="a"/><bpmn:task id="b"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="a" targetRef="e"/>'
    )
    assert normalize(tree, "x.bpmn") == []
    process = tree[0]
    starts = process.findall("{*}startEvent")
    assert len(starts) == 1
    targets = {
        f.get("targetRef")
        for f in process.findall("{*}sequenceFlow")
        if f.get("sourceRef") == starts[0].get("id")
    }
    assert targets == {"a", "b"}


def test_a_sub_process_drawn_without_content_ends_at_once() -> None:
    tree = doc(
        '<bpmn:startEvent id="s"/><bpmn:subProcess id="sub"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="sub"/>'
    )
    assert normalize(tree, "x.bpmn") == []
    sub = tree.find(".//{*}subProcess")
    [start] = sub.findall("{*}startEvent")
    [end] = sub.findall("{*}endEvent")
    [flow] = sub.findall("{*}sequenceFlow")
    assert (flow.get("sourceRef"), flow.get("targetRef")) == (start.get("id"), end.get("id"))


def test_link_events_become_a_flow_and_a_missing_catch_is_a_problem() -> None:
    tree = doc(
        '<bpmn:intermediateThrowEvent id="t"><bpmn:linkEventDefinition name="L"/>'
        "</bpmn:intermediateThrowEvent>"
        '<bpmn:intermediateCatchEvent id="c"><bpmn:linkEventDefinition name="L"/>'
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/>'
    )
    assert normalize(tree, "x.bpmn") == []
    assert any(
        f.get("sourceRef") == "t" and f.get("targetRef") == "c" for f in tree[0].findall("{*}sequenceFlow")
    )
    lonely = doc(
        '<bpmn:startEvent id="s"/><bpmn:intermediateThrowEvent id="t"><bpmn:linkEventDefinition name="X"/>'
        '</bpmn:intermediateThrowEvent><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/>'
    )
    [problem] = normalize(lonely, "x.bpmn")
    assert "has no catching link event" in problem.message and problem.element_id == "t"


def test_data_stores_objects_and_missing_ids() -> None:
    tree = doc(
        '<bpmn:startEvent id="s"/><bpmn:task id="a"><bpmn:dataOutputAssociation id="o">'
        "<bpmn:targetRef>ds</bpmn:targetRef>"
        '</bpmn:dataOutputAssociation></bpmn:task><bpmn:dataStoreReference id="ds"/>'
        '<bpmn:dataObject id="do"/><bpmn:sequenceFlow sourceRef="s" targetRef="a"/>'
    )
    assert normalize(tree, "x.bpmn") == []
    assert not tree.xpath(
        "//*[local-name()='dataStoreReference' or local-name()='dataOutputAssociation' "
        "or local-name()='dataObject']"
    )
    assert all(f.get("id") for f in tree[0].findall("{*}sequenceFlow"))


def test_camunda_multi_instance_becomes_loop_data_references() -> None:
    tree = doc(
        '<bpmn:startEvent id="s"/><bpmn:task id="a"><bpmn:multiInstanceLoopCharacteristics '
        'camunda:collection="${items}" camunda:elementVariable="item"/></bpmn:task>'
    )
    assert normalize(tree, "x.bpmn") == []
    loop = tree.find(".//{*}multiInstanceLoopCharacteristics")
    assert loop.findtext("{*}loopDataInputRef") == "items"
    assert loop.find("{*}inputDataItem").get("id") == "item"
    computed = doc(
        '<bpmn:startEvent id="s"/><bpmn:task id="a"><bpmn:multiInstanceLoopCharacteristics '
        'camunda:collection="${order.lines}"/></bpmn:task><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="e"/>'
    )
    assert normalize(computed, "x.bpmn") == []
    loop = computed.find(".//{*}multiInstanceLoopCharacteristics")
    assert loop.findtext("{*}loopDataInputRef") == "collection_of_a"
    scripts = [t.findtext("{*}script") for t in computed.iter("{*}scriptTask")]
    assert scripts == [
        "collection_of_a = el_prop(el_var('order', '${order.lines}'), 'lines')",
        "del collection_of_a",
    ]
    bad = doc(
        '<bpmn:startEvent id="s"/><bpmn:task id="a"><bpmn:multiInstanceLoopCharacteristics '
        'camunda:collection="${order.items()}"/></bpmn:task>'
    )
    [problem] = normalize(bad, "x.bpmn")
    assert "cannot be read: method 'items()' is not supported" in problem.message


def test_camunda_element_variable_runs_mappings_on_each_instance() -> None:
    tree = doc(
        '<bpmn:startEvent id="s"/><bpmn:subProcess id="a"><bpmn:multiInstanceLoopCharacteristics '
        'isSequential="true" camunda:collection="items" camunda:elementVariable="item"/></bpmn:subProcess>'
    )
    assert normalize(tree, "x.bpmn") == []
    loop = tree.find(".//{*}multiInstanceLoopCharacteristics")
    assert loop.get("{http://spiffworkflow.org/bpmn/schema/1.0/core}scriptsOnInstances") == "true"


def test_a_loop_without_condition_or_maximum_runs_once_only_under_camundas_reading() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:task id="a"><bpmn:standardLoopCharacteristics/></bpmn:task>'
        '<bpmn:task id="b"><bpmn:standardLoopCharacteristics loopMaximum="3"/></bpmn:task>'
    )
    strict = doc(body)
    assert normalize(strict, "x.bpmn") == []
    assert len(strict.findall(".//{*}standardLoopCharacteristics")) == 2  # SpiffWorkflow refuses it
    camunda = doc(body)
    assert normalize(camunda, "x.bpmn", camunda_reading=True) == []
    [kept] = camunda.findall(".//{*}standardLoopCharacteristics")
    assert kept.get("loopMaximum") == "3"


def test_non_executable_processes_are_left_alone() -> None:
    tree = etree.fromstring(
        f'{HEAD}<bpmn:process id="p" isExecutable="false"><bpmn:task id="a">'
        "<bpmn:multiInstanceLoopCharacteristics/></bpmn:task></bpmn:process>"
        "</bpmn:definitions>".encode()
    )
    assert normalize(tree, "x.bpmn") == []
    assert tree[0].find("{*}startEvent") is None


def test_input_output_mapping_becomes_scripts() -> None:
    task = node(
        '<bpmn:serviceTask id="s"><bpmn:extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="total">${price * qty}</camunda:inputParameter>'
        '<camunda:inputParameter name="note">plain text</camunda:inputParameter>'
        '<camunda:inputParameter name="tags"><camunda:list><camunda:value>a</camunda:value></camunda:list>'
        "</camunda:inputParameter>"
        '<camunda:outputParameter name="done">=true</camunda:outputParameter>'
        '<camunda:outputParameter name="odd.name">x</camunda:outputParameter>'
        '<camunda:outputParameter name="_hidden">x</camunda:outputParameter>'
        '<camunda:outputParameter name="js"><camunda:script scriptFormat="javascript">1</camunda:script>'
        "</camunda:outputParameter>"
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"
    )
    mapping = read_mapping(task, "x.bpmn")
    assert [name for name, _ in mapping.inputs] == ["total", "note", "tags"]
    assert mapping.prescript is not None and "note = 'plain text'" in mapping.prescript
    # Camunda 7 names are any text: "odd.name" is one variable, written without Python syntax.
    assert mapping.postscript == "done = True\nel_set('odd.name', 'x')"
    messages = [p.message for p in mapping.problems]
    assert any("'_hidden' cannot be a variable name" in m for m in messages)
    assert any("cannot run in this engine" in m for m in messages)


def test_zeebe_targets_may_hold_spaces_and_paths() -> None:
    task = node(
        '<bpmn:serviceTask id="s"><bpmn:extensionElements><zeebe:ioMapping>'
        '<zeebe:input source="demo@camunda.com" target="from.email"/>'
        '<zeebe:input source="= applicant.name" target="from.name"/>'
        '<zeebe:output source="= body.value[1]" target="Current Vacation Status"/>'
        "</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>"
    )
    mapping = read_mapping(task, "x.bpmn")
    assert mapping.problems == []
    # As the sandbox runs scripts: one namespace, the task data with the engine's functions.
    data: dict[str, Any] = {**EL_FUNCTIONS, "__builtins__": dict(SAFE_BUILTINS)}
    data.update(applicant={"name": "Bo"}, body={"value": ["first"]})
    for script in (mapping.prescript, mapping.postscript):
        assert script is not None
        check_source(script, mode="exec")
        exec(script, data)
    assert data["from"] == {"email": "demo@camunda.com", "name": "Bo"}
    assert data["Current Vacation Status"] == "first"
