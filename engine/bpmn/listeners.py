"""Camunda execution and task listeners, run as steps of their own around the element.

``camunda:executionListener`` (events ``start``, ``end``, and ``take`` on a sequence flow) and
``camunda:taskListener`` on a user task (events ``create`` and ``complete``) name their work
as Camunda names a service task's: ``delegateExpression="${name}"``, ``expression``, ``class``,
or a nested ``camunda:script``. Each listener becomes, in the normalized copy of the diagram,
a service task bound like any other (``bindings``) or, for a Python script, a script task:

* a start / create listener runs on every path into the element, before it;
* an end / complete listener runs on every path out of it, after it (behind each flow a
  deciding gateway takes);
* a take listener runs on its sequence flow;
* a process's start listeners run after its start events.

So listeners go through the same machinery as other work: handler registry, savepoints,
retries, incidents and history. A Java class or expression, or a script in another language,
is refused at deploy unless a Python handler is registered under that name, as for service
tasks. Refused as well, with the reason: listeners of other events (task ``assignment``,
``delete``, ``update``, ``timeout``), a process's ``end`` listeners, end listeners after a
parallel or inclusive split (they would run once per branch), start listeners of a joining
parallel or inclusive gateway (once per arriving path), and listeners of an event-based
gateway (nothing may stand between it and its events).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .bindings import KIND_HANDLER, PYTHON_SCRIPT_FORMATS, Binding, delegate_name
from .dialect import BPMN_NS, CAMUNDA_NS, camunda_attributes, camunda_children, local_name
from .splice import after, before

# Where a listener runs relative to its element: before, after, or (take) on its flow.
_PLACES = {
    ("executionListener", "start"): "before",
    ("executionListener", "end"): "after",
    ("executionListener", "take"): "on",
    ("taskListener", "create"): "before",
    ("taskListener", "complete"): "after",
}


_LABELS = {"executionListener": "An execution listener", "taskListener": "A task listener"}
# Events nothing leads into: their start listeners run right after them.
_ENTRIES = ("startEvent", "boundaryEvent")


@dataclass(frozen=True)
class Listener:
    node: Any  # the camunda:executionListener / camunda:taskListener element
    owner: Any  # the element it listens to
    kind: str  # executionListener | taskListener
    event: str
    binding: Binding | None  # the handler it runs; None for a Python script
    script: str | None  # the Python script it runs, if it is one

    @property
    def place(self) -> str | None:
        return _PLACES.get((self.kind, self.event))


def _binding(node: Any) -> tuple[Binding | None, str | None]:
    attrs = _attributes(node)
    if "delegateExpression" in attrs:
        expression = attrs["delegateExpression"]
        return Binding(
            KIND_HANDLER, delegate_name(expression) or expression, "camunda:delegateExpression"
        ), None
    if "class" in attrs:
        return Binding(KIND_HANDLER, attrs["class"], "camunda:class"), None
    if "expression" in attrs:
        return Binding(KIND_HANDLER, attrs["expression"], "camunda:expression"), None
    for script in camunda_children(node, "script"):
        language = (script.get("scriptFormat") or "").strip().lower()
        if language in PYTHON_SCRIPT_FORMATS and not script.get("resource"):
            return None, script.text or ""
        name = script.get("resource") or node.getparent().getparent().get("id") or ""
        return Binding(KIND_HANDLER, name, f"the script resource (a script in {language!r})"), None
    return Binding(KIND_HANDLER, "", "a listener naming nothing"), None


def _attributes(node: Any) -> dict[str, str]:
    """A listener's attributes: Camunda writes them without a namespace (``delegateExpression``)."""
    return {**{k: v for k, v in node.attrib.items() if "}" not in k}, **camunda_attributes(node)}


def listeners_of(element: Any) -> list[Listener]:
    """The listeners an element declares, in document order."""
    found = []
    for kind in ("executionListener", "taskListener"):
        for node in camunda_children(element, kind):
            binding, script = _binding(node)
            event = (node.get("event") or "").strip()
            found.append(Listener(node, element, kind, event, binding, script))
    found.sort(key=lambda listener: listener.node.sourceline or 0)
    return found


def listeners_in(root: Any) -> Iterator[Listener]:
    for element in root.iter():
        if (
            isinstance(element.tag, str)
            and etree.QName(element).namespace == BPMN_NS
            and local_name(element) != "extensionElements"  # it holds listeners, it is not listened to
        ):
            yield from listeners_of(element)


def refusal(listener: Listener) -> str | None:
    """Why a listener cannot run here, or None when it can."""
    owner = local_name(listener.owner)
    what = f"{_LABELS[listener.kind]} with event {listener.event!r}"
    if listener.place is None:
        if listener.kind == "taskListener":
            return f"{what} is not supported; use event 'create' or 'complete'"
        return f"{what} is not supported; use event 'start', 'end' or (on a sequence flow) 'take'"
    if owner == "process":
        return None if listener.event == "start" else f"{what} on a process is not supported"
    if owner == "eventBasedGateway":
        return f"{what} on an event-based gateway is not supported: nothing may stand before its events"
    if listener.place == "on" and owner != "sequenceFlow":
        return f"{what} is only for a sequence flow"
    if listener.place != "on" and owner == "sequenceFlow":
        return f"{what} on a sequence flow is not supported"
    split = owner in ("parallelGateway", "inclusiveGateway")
    if listener.place == "after" and split:
        return f"{what} on a splitting {owner} is not supported: it would run once per branch"
    if listener.place == "before" and split and len(_flows_into(listener.owner)) > 1:
        return f"{what} on a joining {owner} is not supported: it would run once per arriving path"
    if listener.binding is not None and not listener.binding.name:
        return f"{what} names no delegateExpression, expression, class or script"
    return None


def _flows_into(element: Any) -> list[Any]:
    scope = element.getparent()
    return [
        f for f in scope.iterfind(f"{{{BPMN_NS}}}sequenceFlow") if f.get("targetRef") == element.get("id")
    ]


def _step(listener: Listener, step_id: str) -> Any:
    """The element that runs the listener: a bound service task or a Python script task."""
    name = f"{listener.kind} {listener.event} of {listener.owner.get('name') or listener.owner.get('id')}"
    if listener.script is not None:
        task = etree.Element(f"{{{BPMN_NS}}}scriptTask", id=step_id, name=name, scriptFormat="python")
        etree.SubElement(task, f"{{{BPMN_NS}}}script").text = listener.script
        return task
    task = etree.Element(f"{{{BPMN_NS}}}serviceTask", id=step_id, name=name)
    assert listener.binding is not None
    for attribute in ("delegateExpression", "class", "expression"):
        value = _attributes(listener.node).get(attribute)
        if value is not None:
            task.set(f"{{{CAMUNDA_NS}}}{attribute}", value)
            return task
    # A script in another language: the handler registered under its resource, by exact name.
    task.set(f"{{{CAMUNDA_NS}}}class", listener.binding.name)
    return task


def rewrite(process: Any, new_id: Callable[[str], str]) -> None:
    """Place every listener of ``process`` (checked with ``refusal`` first) as a step of its own."""
    found = list(listeners_in(process))
    # Each "after" listener is placed right behind its element, so the last placed runs first.
    ordered = [x for x in found if x.place != "after"] + [x for x in reversed(found) if x.place == "after"]
    for listener in ordered:
        owner = listener.owner
        label = f"{owner.get('id')}.{listener.event}-listener"

        def chain(where: str, listener: Listener = listener, label: str = label) -> list[Any]:
            return [_step(listener, new_id(f"{label}-{where}"))]

        kind = local_name(owner)
        if kind == "process":
            for start in owner.iterfind(f"{{{BPMN_NS}}}startEvent"):
                after(start, chain, new_id)
        elif listener.place == "on":
            _on_flow(owner, chain("on"), new_id)
        elif (listener.place == "before" and kind not in _ENTRIES) or kind == "endEvent":
            before(owner, chain, new_id)  # an end event's end listener: nothing follows it
        else:
            after(owner, chain, new_id)  # a start or boundary event's start listener: nothing precedes it
        listener.node.getparent().remove(listener.node)


def _on_flow(flow: Any, chain: list[Any], new_id: Callable[[str], str]) -> None:
    scope = flow.getparent()
    for element in chain:
        scope.append(element)
    target = flow.get("targetRef")
    flow.set("targetRef", chain[0].get("id"))
    etree.SubElement(
        scope,
        f"{{{BPMN_NS}}}sequenceFlow",
        id=new_id("sequenceFlow"),
        sourceRef=chain[-1].get("id"),
        targetRef=target,
    )
