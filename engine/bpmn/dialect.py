"""The XML namespaces modelers write, and reading Camunda's attributes and extension elements.

Camunda 7 reads the older ``activiti:`` namespace as its own (diagrams from Activiti and
early Signavio exports use it), so the engine does too: both read as ``camunda:``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ACTIVITI_NS = "http://activiti.org/bpmn"
CAMUNDA_NAMESPACES = (CAMUNDA_NS, ACTIVITI_NS)
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
# Marks the engine puts on elements it adds to the normalized copy of a diagram (never stored).
ENGINE_NS = "urn:crm-engine:bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS, "zeebe": ZEEBE_NS}


def camunda_attributes(node: Any) -> dict[str, str]:
    """The ``camunda:*`` (or ``activiti:*``) attributes of an element, by local name."""
    found = {}
    for name, value in node.attrib.items():
        qname = etree.QName(name)
        if qname.namespace in CAMUNDA_NAMESPACES:
            found[qname.localname] = value
    return found


def camunda_children(node: Any, localname: str) -> Iterator[Any]:
    """Camunda extension elements named ``localname``, directly in ``node`` or in its extensionElements."""
    for parent in (node, node.find(f"{{{BPMN_NS}}}extensionElements")):
        if parent is None:
            continue
        for child in parent:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            if qname.namespace in CAMUNDA_NAMESPACES and qname.localname == localname:
                yield child


def local_name(node: Any) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def is_executable(process: Any) -> bool:
    """Camunda 7 runs a process unless it says ``isExecutable="false"``; so does this engine."""
    return str(process.get("isExecutable", "true")).strip().lower() != "false"


def executable_processes(root: Any) -> list[Any]:
    return [p for p in root.iter(f"{{{BPMN_NS}}}process") if is_executable(p)]
