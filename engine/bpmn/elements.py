"""What the flow nodes of a deployed diagram are, in Camunda's vocabulary.

Camunda's REST API names activity types (``userTask``, ``noneEndEvent``, ``boundaryError``…),
reports a process's ``camunda:versionTag``, ``camunda:historyTimeToLive`` and target
namespace ("category"), and hands external workers the ``camunda:properties`` of their
service task. SpiffWorkflow's specs keep none of this, so it is read from the stored XML,
once per definition version (a stored definition never changes).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from lxml import etree
from sqlalchemy import Connection, select

from ..errors import NotFound
from ..models import Definition
from .parser import CAMUNDA_NS

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

# Camunda's names for event definitions, by the BPMN element that holds them.
_START = {
    "": "startEvent",
    "message": "messageStartEvent",
    "timer": "timerStartEvent",
    "error": "errorStartEvent",
    "signal": "signalStartEvent",
    "conditional": "conditionalStartEvent",
    "escalation": "escalationStartEvent",
    "compensate": "compensationStartEvent",
}
_END = {
    "": "noneEndEvent",
    "error": "errorEndEvent",
    "terminate": "terminateEndEvent",
    "message": "messageEndEvent",
    "signal": "signalEndEvent",
    "escalation": "escalationEndEvent",
    "cancel": "cancelEndEvent",
    "compensate": "compensationEndEvent",
}
_CATCH = {
    "": "intermediateNoneEvent",
    "timer": "intermediateTimer",
    "message": "intermediateMessageCatch",
    "signal": "intermediateSignalCatch",
    "conditional": "intermediateConditional",
    "link": "intermediateLinkCatch",
}
_THROW = {
    "": "intermediateNoneThrowEvent",
    "message": "intermediateMessageThrowEvent",
    "signal": "intermediateSignalThrow",
    "escalation": "intermediateEscalationThrowEvent",
    "compensate": "intermediateCompensationThrowEvent",
    "link": "intermediateLinkThrow",
}
_BOUNDARY = {
    "timer": "boundaryTimer",
    "message": "boundaryMessage",
    "signal": "boundarySignal",
    "error": "boundaryError",
    "escalation": "boundaryEscalation",
    "conditional": "boundaryConditional",
    "compensate": "boundaryCompensation",
    "cancel": "cancelBoundaryCatch",
}
_EVENTS = {
    "startEvent": _START,
    "endEvent": _END,
    "intermediateCatchEvent": _CATCH,
    "intermediateThrowEvent": _THROW,
    "boundaryEvent": _BOUNDARY,
}
# Activities and gateways keep their element name as their type (``userTask``, ``exclusiveGateway``).
_ACTIVITIES = {
    "task",
    "userTask",
    "manualTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "subProcess",
    "callActivity",
    "transaction",
    "adHocSubProcess",
    "exclusiveGateway",
    "inclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "complexGateway",
}


@dataclass(frozen=True)
class FlowNode:
    id: str
    name: str | None
    activity_type: str
    # camunda:properties of the element, for external workers that ask for them.
    properties: dict[str, str] = field(default_factory=dict)
    # Multi-instance or loop: Camunda reports a "multiInstanceBody" around the instances.
    multi_instance: bool = False


@dataclass(frozen=True)
class ProcessModel:
    key: str
    category: str | None
    version_tag: str | None
    history_time_to_live: int | None
    nodes: dict[str, FlowNode]

    def node(self, element_id: str) -> FlowNode | None:
        return self.nodes.get(element_id)


def read_process_model(xml: str | bytes, process_key: str) -> ProcessModel:
    """The facts about process ``process_key`` (and its embedded sub-processes) in ``xml``."""
    root = etree.fromstring(
        xml.encode("utf-8") if isinstance(xml, str) else xml,
        parser=etree.XMLParser(resolve_entities=False, no_network=True),
    )
    process = next((p for p in root.iterfind(f"{{{BPMN_NS}}}process") if p.get("id") == process_key), None)
    if process is None:
        return ProcessModel(process_key, root.get("targetNamespace"), None, None, {})
    nodes: dict[str, FlowNode] = {}
    for element in process.iter():
        if not isinstance(element.tag, str) or element is process:
            continue
        qname = etree.QName(element)
        kind = activity_type(element) if qname.namespace == BPMN_NS else None
        element_id = element.get("id")
        if kind is not None and element_id:
            nodes[element_id] = FlowNode(
                element_id, element.get("name"), kind, _properties(element), _loops(element)
            )
    return ProcessModel(
        key=process_key,
        category=root.get("targetNamespace"),
        version_tag=process.get(f"{{{CAMUNDA_NS}}}versionTag"),
        history_time_to_live=_days(process.get(f"{{{CAMUNDA_NS}}}historyTimeToLive")),
        nodes=nodes,
    )


def activity_type(element: Any) -> str | None:
    """Camunda's activity type of a BPMN element, or None if it is not a flow node."""
    local = etree.QName(element).localname
    if local in _ACTIVITIES:
        return local
    names = _EVENTS.get(local)
    if names is None:
        return None
    definitions = [
        etree.QName(child).localname[: -len("EventDefinition")]
        for child in element
        if isinstance(child.tag, str) and etree.QName(child).localname.endswith("EventDefinition")
    ]
    if len(definitions) > 1:
        return names.get("", local)  # "multiple" events have no type of their own in Camunda
    return names.get(definitions[0] if definitions else "", local)


def _properties(element: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for prop in element.iterfind(
        f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property"
    ):
        if prop.get("name"):
            found[prop.get("name")] = prop.get("value") or ""
    return found


def _loops(element: Any) -> bool:
    return any(
        isinstance(child.tag, str)
        and etree.QName(child).localname
        in ("multiInstanceLoopCharacteristics", "standardLoopCharacteristics")
        for child in element
    )


def _days(text: str | None) -> int | None:
    """camunda:historyTimeToLive is days ("30") or an ISO period of days ("P30D")."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(?:P(\d+)D|(\d+))\s*", text)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


class ProcessModels:
    """Bounded cache of ``ProcessModel`` by definition id."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, ProcessModel] = OrderedDict()
        self._lock = Lock()

    def get(self, conn: Connection, definition_id: str) -> ProcessModel:
        with self._lock:
            found = self._items.get(definition_id)
            if found is not None:
                self._items.move_to_end(definition_id)
                return found
        row = conn.execute(
            select(Definition.key, Definition.bpmn_xml).where(Definition.id == definition_id)
        ).first()
        if row is None:
            raise NotFound(f"No process definition with id {definition_id!r}")
        model = read_process_model(row.bpmn_xml, row.key)
        with self._lock:
            self._items[definition_id] = model
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return model
