"""``camunda:asyncBefore`` / ``asyncAfter``: a commit point, the rest continuing in a transaction of its own.

Camunda ends the transaction before (or after) such an element and lets its job executor
carry on. Here a command already commits as one transaction; the commit point is an element
the engine places on the path in the normalized copy of the diagram: a timer that is due the
moment it is reached but never fires in the command that reached it. The command commits
there; the scheduler claims the due timer at once (with its lease) and continues the case in
a new transaction, so a failure after the point rolls back only what follows it, and is
retried later by the scheduler, as Camunda's job would be.

Where: before the element (``asyncBefore``, and the older ``camunda:async``), or after it
(``asyncAfter``; also ``asyncBefore`` on a start or boundary event, which nothing precedes).
After an end event there is nothing left to continue: the command's own commit is the point.
On a multi-instance activity the point is placed around the whole activity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.task import Task as SpiffTask

from .dialect import BPMN_NS, ENGINE_NS, camunda_attributes, local_name
from .splice import after, before
from .timers import EngineDurationTimerEventDefinition, engine_now

# Marks the catch event the engine placed (its value: before | after).
CONTINUATION = f"{{{ENGINE_NS}}}continuation"
# In a commit point's task data: the instance has been stored with the point reached.
_STORED = "engine_stored"
_TRUE = ("true", "1")
# Elements nothing comes before: a point "before" them goes right after them.
_ENTRY = ("startEvent", "boundaryEvent")
_FLOW_NODES = frozenset(
    {"task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask",
     "businessRuleTask", "callActivity", "subProcess", "transaction", "exclusiveGateway",
     "parallelGateway", "inclusiveGateway", "eventBasedGateway", "intermediateThrowEvent",
     "intermediateCatchEvent", "endEvent", "startEvent", "boundaryEvent"}
)  # fmt: skip


class ContinuationTimerEventDefinition(EngineDurationTimerEventDefinition):
    """Due the moment it is reached; fires only once the command that reached it has stored it.

    SpiffWorkflow looks at timers again at the end of every round of engine steps, so "fire at
    a later look" would fire in the same command. Instead the point is passed only after the
    instance was saved with it reached (``mark_stored``, called as the task is written), i.e.
    in a following command: the scheduler's, which claims the due timer at once.
    """

    def has_fired(self, my_task: SpiffTask) -> bool:
        if my_task.internal_data.get("event_fired", False):
            return True
        if "event_value" not in my_task.internal_data:
            my_task.internal_data["event_value"] = engine_now(my_task).isoformat()
            return False
        if my_task.internal_data.get(_STORED, False):
            my_task.internal_data["event_fired"] = True
        return bool(my_task.internal_data.get("event_fired", False))


def mark_stored(task: SpiffTask) -> None:
    """Called as a task is written to the store: a reached commit point may be passed from now on."""
    definition = getattr(task.task_spec, "event_definition", None)
    data = task.internal_data
    if (
        isinstance(definition, ContinuationTimerEventDefinition)
        and "event_value" in data
        and not data.get(_STORED)
    ):
        data[_STORED] = True


def places(element: Any) -> list[str]:
    """Where ``element`` asks for commit points: a list of ``before`` / ``after``."""
    if local_name(element) not in _FLOW_NODES:
        return []  # the loop characteristics' own flags: the activity's decide (see module doc)
    attrs = camunda_attributes(element)
    wanted = []
    if (attrs.get("asyncBefore") or attrs.get("async") or "").strip().lower() in _TRUE:
        wanted.append("after" if local_name(element) in _ENTRY else "before")
    # After an event-based gateway the case waits for its events anyway: that is the commit point.
    after_ok = local_name(element) != "eventBasedGateway"
    if (attrs.get("asyncAfter") or "").strip().lower() in _TRUE and after_ok and "after" not in wanted:
        wanted.append("after")
    return wanted


def _point(element: Any, where: str, step_id: str) -> Any:
    name = element.get("name") or element.get("id")
    event = etree.Element(f"{{{BPMN_NS}}}intermediateCatchEvent", id=step_id, name=f"continue {where} {name}")
    event.set(CONTINUATION, where)
    timer = etree.SubElement(event, f"{{{BPMN_NS}}}timerEventDefinition")
    etree.SubElement(timer, f"{{{BPMN_NS}}}timeDuration").text = "PT0S"
    return event


def rewrite(process: Any, new_id: Callable[[str], str]) -> None:
    """Place a commit point wherever an element of ``process`` asks for one."""
    for element in list(process.iter()):
        if not isinstance(element.tag, str) or etree.QName(element).namespace != BPMN_NS:
            continue
        for where in places(element):
            label = f"{element.get('id')}.async-{where}"

            def chain(
                suffix: str, element: Any = element, where: str = where, label: str = label
            ) -> list[Any]:
                return [_point(element, where, new_id(f"{label}-{suffix}"))]

            (before if where == "before" else after)(element, chain, new_id)
