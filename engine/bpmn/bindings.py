"""What runs a task that does work: a Python handler, an external worker's topic, or the engine itself.

Modelers name the implementation of a service task in many ways (Camunda 7 attributes,
Camunda 8 job types, SpiffWorkflow's operator, a connector, a Java class name), and some
name none at all. Parser, validation and the tools that drive a diagram all ask this
module, so a task is bound the same way everywhere.

A task that names no implementation is bound to the handler registered under its own
id: a designer can then run a diagram drawn for documentation by registering handlers,
and the deploy refusal names exactly what to register. Likewise a business rule task whose
DMN decision is not deployed with it runs the handler registered under the decision's id
(rules kept in Python, or a decision service of another system behind a handler).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .dialect import BPMN_NS, SPIFF_NS, ZEEBE_NS, camunda_attributes, camunda_children

KIND_HANDLER = "handler"
KIND_EXTERNAL = "external"

# Script formats that mean Python: the engine runs these in its sandbox.
PYTHON_SCRIPT_FORMATS = frozenset({"", "python", "py", "python3", "jython"})

# Elements whose work can be bound to a handler.
BINDABLE_TAGS = ("serviceTask", "sendTask", "businessRuleTask", "scriptTask")


@dataclass(frozen=True)
class Binding:
    kind: str  # KIND_HANDLER or KIND_EXTERNAL
    name: str  # the handler name or the external topic
    how: str  # what in the diagram gave the name, for messages
    # Parameters given with the binding (connector input parameters, Camunda 8 task headers).
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def implicit(self) -> bool:
        return self.how.startswith("the task id")


def delegate_name(expression: str | None) -> str | None:
    """``${name}`` → ``name``; anything more complex is not a plain delegate reference."""
    if not expression:
        return None
    text = expression.strip()
    if (text.startswith("${") or text.startswith("#{")) and text.endswith("}"):
        inner = text[2:-1].strip()
        if inner.isidentifier():
            return inner
    return None


def script_format(node: Any) -> str:
    return (node.get("scriptFormat") or "").strip().lower()


def decision_ref(node: Any) -> str | None:
    """The DMN decision a business rule task calls, however the modeler wrote it."""
    ref = node.get(f"{{{SPIFF_NS}}}calledDecisionId") or camunda_attributes(node).get("decisionRef")
    if ref:
        return str(ref)
    for called in node.iterfind(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId"):
        if called.text and called.text.strip():
            return str(called.text.strip())
    for called in node.iterfind(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}calledDecision"):
        if called.get("decisionId"):
            return str(called.get("decisionId"))
    return None


def _explicit(node: Any) -> Binding | None:
    """The implementation the diagram names, if it names one."""
    operator = node.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}serviceTaskOperator")
    if operator is not None and operator.get("id"):
        return Binding(KIND_HANDLER, str(operator.get("id")), "spiffworkflow:serviceTaskOperator")
    attrs = camunda_attributes(node)
    if attrs.get("type") == "external":
        return Binding(KIND_EXTERNAL, attrs.get("topic", ""), 'camunda:type="external"')
    job = node.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}taskDefinition")
    if job is not None and job.get("type"):
        headers = tuple(
            (str(h.get("key")), str(h.get("value") or ""))
            for h in node.iterfind(
                f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}taskHeaders/{{{ZEEBE_NS}}}header"
            )
            if h.get("key")
        )
        # A Camunda 8 job type is fetched by job workers: the external-task protocol's topic.
        return Binding(KIND_EXTERNAL, str(job.get("type")), "zeebe:taskDefinition", headers)
    if "delegateExpression" in attrs:
        expression = attrs["delegateExpression"]
        return Binding(KIND_HANDLER, delegate_name(expression) or expression, "camunda:delegateExpression")
    if "class" in attrs:
        return Binding(KIND_HANDLER, attrs["class"], "camunda:class")
    if "expression" in attrs:
        return Binding(KIND_HANDLER, attrs["expression"], "camunda:expression")
    for connector in camunda_children(node, "connector"):
        ids = list(camunda_children(connector, "connectorId"))
        name = (ids[0].text or "").strip() if ids else ""
        return Binding(KIND_HANDLER, name, "camunda:connector")
    return None


def result_variable(node: Any) -> str | None:
    """Where a bound task puts its handler's result (``camunda:resultVariable``, or Camunda 8's
    ``zeebe:calledDecision resultVariable`` for a decision run by a handler)."""
    name = camunda_attributes(node).get("resultVariable")
    if not name:
        called = node.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}calledDecision")
        name = called.get("resultVariable") if called is not None else None
    return str(name) if name else None


def binding_of(node: Any, decisions: Container[str] | None = None) -> Binding | None:
    """How the work of ``node`` is done; None when SpiffWorkflow does it itself.

    None for a Python script task, a business rule task whose decision is among ``decisions``
    (None: every decision is taken to be deployed), a send task that throws a message, and
    every element that is not one of ``BINDABLE_TAGS``.
    """
    tag = etree.QName(node).localname
    if tag not in BINDABLE_TAGS:
        return None
    explicit = _explicit(node)
    if explicit is not None:
        return explicit
    element_id = str(node.get("id") or "")
    if tag == "scriptTask":
        fmt = script_format(node)
        if fmt in PYTHON_SCRIPT_FORMATS:
            return None
        resource = camunda_attributes(node).get("resource")
        if resource:
            return Binding(KIND_HANDLER, resource, f"the script resource (a script in {fmt!r})")
        return Binding(KIND_HANDLER, element_id, f"the task id (a script in {fmt!r})")
    if tag == "businessRuleTask":
        decision = decision_ref(node)
        if decision is None:
            return Binding(KIND_HANDLER, element_id, "the task id (a business rule task without a decision)")
        if decisions is None or decision in decisions:
            return None
        return Binding(KIND_HANDLER, decision, "the decision id (its DMN decision is not deployed with it)")
    if tag == "sendTask" and node.get("messageRef"):
        return None
    return Binding(KIND_HANDLER, element_id, "the task id (the task names no implementation)")


def bindings_in(root: Any, decisions: Container[str] | None = None) -> Iterator[tuple[Any, Binding]]:
    """Every bound element under ``root``, with its binding (``decisions`` as for ``binding_of``)."""
    for node in root.iter(*(f"{{{BPMN_NS}}}{tag}" for tag in BINDABLE_TAGS)):
        binding = binding_of(node, decisions)
        if binding is not None:
            yield node, binding
