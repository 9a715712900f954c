"""Camunda input/output mappings, turned once into the sandboxed scripts a task runs around its work.

``camunda:inputOutput`` (Camunda 7) and ``zeebe:ioMapping`` (Camunda 8) map variables into
an activity before it runs and out of it when it ends. SpiffWorkflow runs a task's
pre-script when the task becomes ready and its post-script when it completes, so an
input parameter becomes an assignment in the pre-script and an output parameter one in
the post-script, with every value translated here, at deploy time.

Values: text (literal, or EL ``${…}`` / FEEL ``=…``), ``camunda:list``, ``camunda:map``,
and Python ``camunda:script``. Scripts in other languages are refused. The connector's
own mapping (inside ``camunda:connector``) gives the handler its parameters instead.

A target that is not a Python name (``Vacation Approval``, a keyword such as ``from``) is
written with ``el_set``; Camunda 8's dotted target (``from.email``) sets an entry of a map
variable, created as needed, as Zeebe does. Names starting with an underscore are refused.

One difference from Camunda: task data is one scope here, so input parameters stay in
the case's variables after the task instead of vanishing with a local scope.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, ScriptRefused
from ..sandbox import check_source
from .bindings import PYTHON_SCRIPT_FORMATS
from .conditions import expression_code
from .dialect import BPMN_NS, ZEEBE_NS, camunda_children, local_name

# Where a value goes: a variable's name, or (Camunda 8) the variable and the keys inside it.
Target = str | tuple[str, ...]


@dataclass
class Mapping:
    inputs: list[tuple[Target, str]] = field(default_factory=list)  # (target, python expression)
    outputs: list[tuple[Target, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def prescript(self) -> str | None:
        return _assignments(self.inputs)

    @property
    def postscript(self) -> str | None:
        return _assignments(self.outputs)


def _assignments(pairs: list[tuple[Target, str]]) -> str | None:
    if not pairs:
        return None
    return "\n".join(_assignment(target, code) for target, code in pairs)


def _assignment(target: Target, code: str) -> str:
    if isinstance(target, str) and _is_python_name(target):
        return f"{target} = {code}"
    return f"el_set({target!r}, {code})"


def _is_python_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


class _Reader:
    def __init__(self, file_name: str, owner: str | None) -> None:
        self.file_name = file_name
        self.owner = owner
        self.problems: list[Problem] = []

    def problem(self, message: str, node: Any) -> None:
        self.problems.append(Problem(message, self.file_name, node.sourceline, self.owner, code="mapping"))

    def target(self, name: str | None, node: Any, dotted: bool = False) -> Target | None:
        """The variable a parameter maps to; with ``dotted`` (Camunda 8) ``a.b`` is entry b of map a."""
        parts = tuple(part.strip() for part in (name or "").split(".")) if dotted else ((name or "").strip(),)
        if not all(parts) or any(part.startswith("_") for part in parts):
            self.problem(f"{name!r} cannot be a variable name in an input/output mapping", node)
            return None
        return parts if len(parts) > 1 else parts[0]

    def value(self, node: Any) -> str | None:
        """The Python expression for a Camunda parameter's value (None after a problem)."""
        children = [c for c in node if isinstance(c.tag, str)]
        if not children:
            return self.text((node.text or "").strip(), node)
        child = children[0]
        kind = local_name(child)
        if kind == "list":
            items = [self.value(item) for item in child if isinstance(item.tag, str)]
            return None if None in items else "[" + ", ".join(str(i) for i in items) + "]"
        if kind == "map":
            entries = []
            for entry in child:
                if not isinstance(entry.tag, str):
                    continue
                code = self.value(entry)
                if code is None:
                    return None
                entries.append(f"{entry.get('key', '')!r}: {code}")
            return "{" + ", ".join(entries) + "}"
        if kind == "script":
            return self.script(child)
        self.problem(f"camunda:{kind} is not supported as a parameter value", child)
        return None

    def script(self, node: Any) -> str | None:
        fmt = (node.get("scriptFormat") or "").strip().lower()
        if node.get("resource") or fmt not in PYTHON_SCRIPT_FORMATS:
            what = (
                f"resource {node.get('resource')!r}"
                if node.get("resource")
                else f"in {node.get('scriptFormat')!r}"
            )
            self.problem(
                f"A script {what} in an input/output mapping cannot run in this engine; write it as a "
                "Python expression or an EL ${...} value",
                node,
            )
            return None
        return self.checked((node.text or "").strip(), node)

    def text(self, text: str, node: Any) -> str | None:
        if not text:
            return "None"
        try:
            code = expression_code(text)
        except ScriptRefused as exc:
            self.problem(f"Mapping value: {exc.message}", node)
            return None
        if code == text:  # neither EL nor FEEL: Camunda reads plain text as a string constant
            return repr(text)
        return self.checked(code, node)

    def checked(self, code: str, node: Any) -> str | None:
        try:
            check_source(code, mode="eval")
        except ScriptRefused as exc:
            self.problem(f"Mapping value refused: {exc.message}", node)
            return None
        return code


def read_mapping(node: Any, file_name: str) -> Mapping:
    """The input/output mapping of an activity (its ``camunda:inputOutput`` or ``zeebe:ioMapping``)."""
    reader = _Reader(file_name, node.get("id"))
    mapping = Mapping()
    for io in camunda_children(node, "inputOutput"):
        for parameter in io:
            if not isinstance(parameter.tag, str):
                continue
            kind = local_name(parameter)
            name = reader.target(parameter.get("name"), parameter)
            code = reader.value(parameter)
            if name is None or code is None:
                continue
            (mapping.inputs if kind == "inputParameter" else mapping.outputs).append((name, code))
    for io in node.iterfind(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}ioMapping"):
        for parameter in io:
            if not isinstance(parameter.tag, str):
                continue
            name = reader.target(parameter.get("target"), parameter, dotted=True)
            code = reader.text((parameter.get("source") or "").strip(), parameter)
            if name is None or code is None:
                continue
            (mapping.inputs if local_name(parameter) == "input" else mapping.outputs).append((name, code))
    mapping.problems = reader.problems
    return mapping


def connector_parameters(node: Any, file_name: str) -> tuple[dict[str, str], Mapping]:
    """A connector's input parameters (for its handler) and its output mapping (post-script)."""
    reader = _Reader(file_name, node.get("id"))
    parameters: dict[str, str] = {}
    mapping = Mapping()
    for connector in camunda_children(node, "connector"):
        for io in camunda_children(connector, "inputOutput"):
            for parameter in io:
                if not isinstance(parameter.tag, str):
                    continue
                name = reader.target(parameter.get("name"), parameter)
                code = reader.value(parameter)
                if name is None or code is None:
                    continue
                if local_name(parameter) == "inputParameter":
                    parameters[str(name)] = code  # a handler parameter: any name, never a path
                else:
                    mapping.outputs.append((name, code))
    mapping.problems = reader.problems
    return parameters, mapping


def combine(first: str | None, second: str | None) -> str | None:
    """Two scripts run one after the other (either may be missing)."""
    parts = [p for p in (first, second) if p]
    return "\n".join(parts) if parts else None
