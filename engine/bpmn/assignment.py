"""Who takes a user task, and by when: the attributes modelers write, translated once at deploy.

Camunda 7 writes them as attributes (``camunda:assignee="${starter}"``, ``candidateGroups``,
``candidateUsers``, ``dueDate``, ``followUpDate``, ``priority``), Camunda 8 as extension
elements (``zeebe:assignmentDefinition``, ``zeebe:taskSchedule``, ``zeebe:priorityDefinition``)
with FEEL after ``=``. Both are read here into one set of names; a value that is an expression
is translated into the engine's sandboxed Python at parse time and kept beside the text in
the task spec's extensions (``engine:code:<name>``), so opening a task only evaluates it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .conditions import expression_code
from .dialect import BPMN_NS, ZEEBE_NS, camunda_attributes

# The attributes, by their Camunda 7 names.
ATTRIBUTES = ("assignee", "candidateGroups", "candidateUsers", "dueDate", "followUpDate", "priority")
CODE_PREFIX = "engine:code:"

# Camunda 8: (extension element, attribute) -> Camunda 7 name.
_ZEEBE = {
    ("assignmentDefinition", "assignee"): "assignee",
    ("assignmentDefinition", "candidateGroups"): "candidateGroups",
    ("assignmentDefinition", "candidateUsers"): "candidateUsers",
    ("taskSchedule", "dueDate"): "dueDate",
    ("taskSchedule", "followUpDate"): "followUpDate",
    ("priorityDefinition", "priority"): "priority",
}


def task_attributes(node: Any) -> dict[str, str]:
    """The assignment attributes a user task writes, Camunda 7's or Camunda 8's, by Camunda 7 name."""
    found = {name: value for name, value in camunda_attributes(node).items() if name in ATTRIBUTES and value}
    extensions = node.find(f"{{{BPMN_NS}}}extensionElements")
    if extensions is not None:
        for (element, attribute), name in _ZEEBE.items():
            for child in extensions.iterfind(f"{{{ZEEBE_NS}}}{element}"):
                value = child.get(attribute)
                if value and name not in found:
                    found[name] = value
    return found


def translated(attributes: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(name, Python code) of each attribute written as an expression; raises ScriptRefused."""
    for name, text in attributes.items():
        code = expression_code(text)
        if code != text.strip():
            yield name, code
