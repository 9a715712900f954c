"""Putting elements on the path into or out of a flow node, in the normalized copy of a diagram.

Listeners and asynchronous continuations (``listeners``, ``continuations``) are run by elements
the engine places before or after the element that declares them, so they go through the
same machinery as any other step (handlers, savepoints, incidents, timers, history).

``before`` reroutes every incoming sequence flow to the new elements; ``after`` makes the new
elements the source of the outgoing flows. After a gateway that decides, or one that splits,
each outgoing flow gets its own copy, placed behind the flow (which keeps its id, condition and
default mark), so the gateway still decides and the elements run once per path taken.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from lxml import etree

from .dialect import BPMN_NS, local_name

# Makes the chain of new elements (in flow order) for one place; its argument tells places apart.
ChainFactory = Callable[[str], list[Any]]

# Gateways whose outgoing flows are chosen or split: a chain goes behind each flow.
BRANCHING = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway", "complexGateway"})


def _tag(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


def _flows(scope: Any, attribute: str, element_id: str) -> list[Any]:
    return [f for f in scope.iterfind(_tag("sequenceFlow")) if f.get(attribute) == element_id]


def _link(scope: Any, source: str, target: str, new_id: Callable[[str], str]) -> None:
    etree.SubElement(
        scope, _tag("sequenceFlow"), id=new_id("sequenceFlow"), sourceRef=source, targetRef=target
    )


def _chain(scope: Any, chain: list[Any], new_id: Callable[[str], str]) -> tuple[str, str]:
    """Add the chain's elements to the scope, linked one after the other; (first id, last id)."""
    for element in chain:
        scope.append(element)
    for earlier, later in pairwise(chain):
        _link(scope, earlier.get("id"), later.get("id"), new_id)
    return chain[0].get("id"), chain[-1].get("id")


def before(element: Any, make: ChainFactory, new_id: Callable[[str], str]) -> None:
    """Every path into ``element`` passes the new elements first."""
    scope = element.getparent()
    first, last = _chain(scope, make("before"), new_id)
    for flow in _flows(scope, "targetRef", element.get("id")):
        flow.set("targetRef", first)
    _link(scope, last, element.get("id"), new_id)


def after(element: Any, make: ChainFactory, new_id: Callable[[str], str]) -> None:
    """Every path out of ``element`` passes the new elements first."""
    scope = element.getparent()
    outgoing = _flows(scope, "sourceRef", element.get("id"))
    if local_name(element) in BRANCHING:
        for index, flow in enumerate(outgoing, start=1):
            first, last = _chain(scope, make(f"after-{index}"), new_id)
            target = flow.get("targetRef")
            flow.set("targetRef", first)
            _link(scope, last, target, new_id)
        return
    if not outgoing:
        return  # nothing follows (an end event): there is no path to put anything on
    first, last = _chain(scope, make("after"), new_id)
    for flow in outgoing:
        flow.set("sourceRef", last)
    _link(scope, element.get("id"), first, new_id)
