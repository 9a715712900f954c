"""What BPMN allows and tools draw, rewritten into the explicit form SpiffWorkflow's parser reads.

Runs on a copy of the document just before SpiffWorkflow parses it; the stored diagram is
the designer's file, unchanged. Each rewrite keeps the meaning the BPMN specification (or
Camunda, where the specification leaves it open) gives the drawing:

* elements and flows without an id get a stable generated one (``engine-<tag>-<n>``);
* data stores are documentation here: the stores and their associations are left out of
  the executable model; so are data objects and I/O specifications, as in Camunda, unless
  the diagram was written for SpiffWorkflow (which gives them run-time meaning);
* a process or sub-process without a start event starts every flow node that has no
  incoming sequence flow, together, as the specification says; a sub-process without an
  end event ends when its last path does, and one drawn without content ends at once;
* a link throw event continues at the link catch event of the same name in its scope;
* Camunda multi-instance attributes (``camunda:collection`` / ``camunda:elementVariable``,
  Camunda 8's ``zeebe:loopCharacteristics``) become the standard loop data references, and
  the activity's input/output mappings run on every instance, as in Camunda; a collection
  given as an expression is computed into ``collection_of_<activity>`` just before the
  activity and removed after it;
* ``camunda:asyncBefore`` / ``asyncAfter`` and Camunda's listeners become elements of their
  own around the element (``continuations``, ``listeners``; validation has refused what
  cannot be placed);
* under Camunda's reading (``camunda_reading``), a standard loop with neither a
  ``loopCondition`` nor a ``loopMaximum`` runs its activity once, as Camunda 7 (which has no
  standard loops) runs it; the validator warns about it.

Every rewrite that cannot be made (a collection that is not a variable, a link with no
catch event) is returned as a problem, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

from ..errors import Problem, ScriptRefused
from ..sandbox import check_source
from . import continuations, listeners, splice
from .conditions import expression_code
from .dialect import BPMN_NS, SPIFF_NS, ZEEBE_NS, camunda_attributes, executable_processes, local_name

# SpiffWorkflow runs an activity's pre- and post-script around the whole loop unless told otherwise.
SCRIPTS_ON_INSTANCES = f"{{{SPIFF_NS}}}scriptsOnInstances"

# Flow nodes a process or sub-process can start at (events that wait for a trigger excluded).
_FLOW_NODES = frozenset(
    {
        "task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask",
        "businessRuleTask", "callActivity", "subProcess", "transaction", "exclusiveGateway",
        "parallelGateway", "inclusiveGateway", "eventBasedGateway", "intermediateThrowEvent",
        "intermediateCatchEvent", "endEvent",
    }
)  # fmt: skip
_SCOPES = ("process", "subProcess", "transaction")


def _tag(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


class Normalizer:
    def __init__(self, tree: Any, file_name: str, camunda_reading: bool = False) -> None:
        self.root = tree.getroot() if hasattr(tree, "getroot") else tree
        self.file_name = file_name
        self.camunda_reading = camunda_reading
        self.problems: list[Problem] = []
        self._counter = 0

    def run(self) -> list[Problem]:
        self._give_ids()
        self._drop_data_stores()
        if SPIFF_NS not in self.root.nsmap.values():
            self._drop_data_objects()
        # Processes marked isExecutable="false" are never parsed into something that runs.
        for process in executable_processes(self.root):
            for scope in self._scopes(process):
                self._implicit_start(scope)
                self._link_events(scope)
            for node in list(process.iter(_tag("multiInstanceLoopCharacteristics"))):
                self._multi_instance(node)
            if self.camunda_reading:
                for node in list(process.iter(_tag("standardLoopCharacteristics"))):
                    if is_underspecified_loop(node):
                        node.getparent().remove(node)
            # Commit points first, so a start listener runs after the point before its element.
            continuations.rewrite(process, self._new_id)
            listeners.rewrite(process, self._new_id)
        return self.problems

    def _problem(self, message: str, node: Any, code: str = "bpmn") -> None:
        self.problems.append(Problem(message, self.file_name, node.sourceline, _owner_id(node), code=code))

    def _new_id(self, tag: str) -> str:
        existing = set(self.root.xpath("//@id"))
        while True:
            self._counter += 1
            candidate = f"engine-{tag}-{self._counter}"
            if candidate not in existing:
                return candidate

    @staticmethod
    def _scopes(process: Any) -> Iterator[Any]:
        for scope in process.iter(*(_tag(name) for name in _SCOPES)):
            if local_name(scope) == "process" or scope.get("triggeredByEvent") != "true":
                yield scope

    # -- ids --------------------------------------------------------------------------------

    def _give_ids(self) -> None:
        for node in self.root.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            name = local_name(node)
            if node.get("id") is None and (
                name in _FLOW_NODES or name in ("sequenceFlow", "startEvent", "boundaryEvent")
            ):
                node.set("id", self._new_id(name))

    # -- data stores ------------------------------------------------------------------------

    def _drop_data_stores(self) -> None:
        stores = {r.get("id") for r in self.root.iter(_tag("dataStoreReference"))}
        stores.update(s.get("id") for s in self.root.iter(_tag("dataStore")))
        for association in list(self.root.iter(_tag("dataInputAssociation"), _tag("dataOutputAssociation"))):
            refs = {
                (r.text or "").strip() for r in association if local_name(r) in ("sourceRef", "targetRef")
            }
            if refs & stores:
                association.getparent().remove(association)
        for node in list(self.root.iter(_tag("dataStoreReference"), _tag("dataStore"))):
            node.getparent().remove(node)

    def _drop_data_objects(self) -> None:
        """Data objects and I/O specifications are documentation, as in Camunda.

        SpiffWorkflow gives them run-time meaning (each is a variable named by its element id,
        required when the task ends); diagrams written for SpiffWorkflow keep that meaning,
        every other tool's diagram keeps Camunda's: variables are whatever the case holds.
        """
        names = (
            "dataInputAssociation",
            "dataOutputAssociation",
            "ioSpecification",
            "dataObjectReference",
            "dataObject",
        )
        for node in list(self.root.iter(*(_tag(n) for n in names))):
            node.getparent().remove(node)

    # -- implicit start and end -------------------------------------------------------------

    def _implicit_start(self, scope: Any) -> None:
        children = [c for c in scope if isinstance(c.tag, str)]
        flows = [c for c in children if local_name(c) == "sequenceFlow"]
        targets = {f.get("targetRef") for f in flows}
        has_start = any(local_name(c) == "startEvent" for c in children)
        is_sub = local_name(scope) != "process"
        end = None
        if is_sub and not any(local_name(c) == "endEvent" for c in children):
            # SpiffWorkflow wants an end event in every sub-process; one nothing leads to
            # changes nothing: the sub-process ends when its last path does.
            end = etree.SubElement(scope, _tag("endEvent"), id=self._new_id("endEvent"))
        if has_start:
            return
        entries = [
            c for c in children
            if local_name(c) in _FLOW_NODES and c.get("id") not in targets and not _is_link_catch(c)
            and not _is_compensation(c)
        ]  # fmt: skip
        if not entries and is_sub and end is not None:
            entries = [end]  # a sub-process drawn without content (collapsed): nothing to do, done
        if not entries:
            return
        start = etree.SubElement(scope, _tag("startEvent"), id=self._new_id("startEvent"))
        for entry in entries:
            etree.SubElement(
                scope, _tag("sequenceFlow"), id=self._new_id("sequenceFlow"),
                sourceRef=start.get("id"), targetRef=entry.get("id"),
            )  # fmt: skip

    # -- link events ------------------------------------------------------------------------

    def _link_events(self, scope: Any) -> None:
        catches: dict[str, Any] = {}
        for event in scope.iterfind(_tag("intermediateCatchEvent")):
            link = event.find(_tag("linkEventDefinition"))
            if link is not None:
                catches[_link_name(link, event)] = event
        for event in scope.iterfind(_tag("intermediateThrowEvent")):
            link = event.find(_tag("linkEventDefinition"))
            if link is None:
                continue
            name = _link_name(link, event)
            target = catches.get(name)
            if target is None:
                self._problem(
                    f"Link event {name!r} has no catching link event of that name in its scope", event
                )
                continue
            etree.SubElement(
                scope, _tag("sequenceFlow"), id=self._new_id("sequenceFlow"),
                sourceRef=event.get("id"), targetRef=target.get("id"),
            )  # fmt: skip

    # -- multi-instance ---------------------------------------------------------------------

    def _multi_instance(self, node: Any) -> None:
        if node.find(_tag("loopCardinality")) is not None or node.find(_tag("loopDataInputRef")) is not None:
            return
        attrs = camunda_attributes(node)
        collection, element = attrs.get("collection"), attrs.get("elementVariable")
        zeebe = node.find(f"{_tag('extensionElements')}/{{{ZEEBE_NS}}}loopCharacteristics")
        if collection is None and zeebe is not None:
            collection = zeebe.get("inputCollection")
            element = zeebe.get("inputElement")
        if not collection:
            self._problem(
                "A multi-instance activity needs a loopCardinality, a loopDataInputRef or camunda:collection",
                node,
            )
            return
        name = _variable_name(collection) or self._computed_collection(node.getparent(), collection, node)
        if name is None:
            return
        etree.SubElement(node, _tag("loopDataInputRef")).text = name
        if element:
            # SpiffWorkflow names the item variable by the element's id.
            etree.SubElement(node, _tag("inputDataItem"), id=element, name=element)
            # Camunda maps inputs and outputs per instance: the element variable is only there.
            node.set(SCRIPTS_ON_INSTANCES, "true")

    def _computed_collection(self, activity: Any, collection: str, node: Any) -> str | None:
        """A collection given as an expression (``${order.items}``): computed into a variable of its
        own by a script step just before the activity, and removed by one just after it."""
        try:
            code = expression_code(collection)
            if code == collection.strip():
                raise ScriptRefused("write it as EL ${...} or FEEL =...")
            check_source(code, mode="eval")
        except ScriptRefused as exc:
            self._problem(f"The multi-instance collection {collection!r} cannot be read: {exc.message}", node)
            return None
        name = "collection_of_" + re.sub(r"\W", "_", str(activity.get("id")))

        def script(text: str) -> Callable[[str], list[Any]]:
            def chain(where: str) -> list[Any]:
                task = etree.Element(
                    _tag("scriptTask"), id=self._new_id(f"{name}-{where}"), scriptFormat="python"
                )
                etree.SubElement(task, _tag("script")).text = text
                return [task]

            return chain

        splice.before(activity, script(f"{name} = {code}"), self._new_id)
        splice.after(activity, script(f"del {name}"), self._new_id)
        return name


def is_underspecified_loop(node: Any) -> bool:
    """A standard loop that says neither when to stop (``loopCondition``) nor how often (``loopMaximum``)."""
    condition = node.find(_tag("loopCondition"))
    has_condition = condition is not None and bool((condition.text or "").strip())
    return not has_condition and not (node.get("loopMaximum") or "").strip()


def _variable_name(expression: str) -> str | None:
    text = expression.strip()
    if (text.startswith("${") or text.startswith("#{")) and text.endswith("}"):
        text = text[2:-1].strip()
    elif text.startswith("="):
        text = text[1:].strip()
    return text if text.isidentifier() else None


def _link_name(link: Any, event: Any) -> str:
    return str(link.get("name") or event.get("name") or "")


def _is_link_catch(node: Any) -> bool:
    return local_name(node) == "intermediateCatchEvent" and node.find(_tag("linkEventDefinition")) is not None


def _is_compensation(node: Any) -> bool:
    return str(node.get("isForCompensation", "false")).lower() == "true"


def _owner_id(node: Any) -> str | None:
    while node is not None:
        if node.get("id"):
            return str(node.get("id"))
        node = node.getparent()
    return None


def normalize(tree: Any, file_name: str, camunda_reading: bool = False) -> list[Problem]:
    """Rewrite ``tree`` in place (give it a copy); returns what could not be rewritten."""
    return Normalizer(tree, file_name, camunda_reading).run()
