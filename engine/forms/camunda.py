"""Load Camunda 7 "generated task forms" (`camunda:formData` inside a user task).

The form fields are mapped onto the same model as form-js forms so that they are shown
and validated by the same code: string → textfield, long → number without decimals,
boolean → checkbox, date → datetime (date), enum → select.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.errors import DefinitionError, Problem
from engine.forms.model import Form, FormField, Option, ValueType

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_FORM_DATA = f"{{{CAMUNDA_NS}}}formData"
_FORM_FIELD = f"{{{CAMUNDA_NS}}}formField"
_VALIDATION = f"{{{CAMUNDA_NS}}}validation"
_CONSTRAINT = f"{{{CAMUNDA_NS}}}constraint"
_VALUE = f"{{{CAMUNDA_NS}}}value"
_MAPPED_TYPES: dict[str, ValueType] = {
    "string": "textfield",
    "long": "number",
    "boolean": "checkbox",
    "date": "datetime",
    "enum": "select",
}
_TYPES = tuple(_MAPPED_TYPES)
# Camunda 7's default for `type="date"` without a datePattern.
DEFAULT_DATE_PATTERN = "dd/MM/yyyy"
_LONG_MIN, _LONG_MAX = Decimal(-(2**63)), Decimal(2**63 - 1)


def _children(element: Any, tag: str) -> Iterator[Any]:
    return (child for child in element if child.tag == tag)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Loader:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []

    def problem(self, message: str, element: Any, element_id: str | None) -> None:
        self.problems.append(
            Problem(message, file=self.filename, line=element.sourceline, element_id=element_id)
        )

    def field(self, node: Any) -> FormField | None:
        key = node.get("id")
        if not key:
            self.problem("A camunda:formField needs an id", node, None)
            return None
        kind = node.get("type") or "string"
        if kind not in _TYPES:
            self.problem(
                f"Form field type {kind!r} is not supported (use one of {', '.join(_TYPES)})", node, key
            )
            return None
        constraints = self.constraints(node, key, kind)
        options = tuple(self.enum_values(node, key)) if kind == "enum" else None
        if kind == "enum" and not options:
            self.problem("An enum form field needs at least one camunda:value", node, key)
        min_value, max_value = constraints.get("min"), constraints.get("max")
        if kind == "long":
            min_value = _LONG_MIN if min_value is None else min_value
            max_value = _LONG_MAX if max_value is None else max_value
        return FormField(
            key=key,
            label=node.get("label") or key,
            type=_MAPPED_TYPES[kind],
            required="required" in constraints,
            min=min_value,
            max=max_value,
            min_length=_as_int(constraints.get("minlength")),
            max_length=_as_int(constraints.get("maxlength")),
            options=options,
            default=_default(kind, node.get("defaultValue")),
            readonly="readonly" in constraints,
            subtype="date" if kind == "date" else None,
            date_pattern=(node.get("datePattern") or DEFAULT_DATE_PATTERN) if kind == "date" else None,
            decimal_digits=0 if kind == "long" else None,
            line=node.sourceline,
        )

    def constraints(self, node: Any, key: str, kind: str) -> dict[str, Decimal | None]:
        found: dict[str, Decimal | None] = {}
        for validation in _children(node, _VALIDATION):
            for constraint in _children(validation, _CONSTRAINT):
                name = constraint.get("name")
                config = constraint.get("config")
                if name in ("required", "readonly"):
                    found[name] = None
                elif name in ("minlength", "maxlength", "min", "max"):
                    number = self.config_number(constraint, key, name, config)
                    if number is not None:
                        found[name] = number
                else:
                    self.problem(
                        f"Validation constraint {name!r} is not supported "
                        "(use required, readonly, minlength, maxlength, min or max)",
                        constraint,
                        key,
                    )
        if kind != "long" and ("min" in found or "max" in found):
            self.problem(f"min/max constraints only apply to long fields, not {kind}", node, key)
        if kind != "string" and ("minlength" in found or "maxlength" in found):
            self.problem(
                f"minlength/maxlength constraints only apply to string fields, not {kind}", node, key
            )
        return found

    def config_number(self, constraint: Any, key: str, name: str, config: str | None) -> Decimal | None:
        try:
            number = Decimal((config or "").strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or (name.endswith("length") and number != int(number)):
            self.problem(f"Constraint {name} needs a numeric config, not {config!r}", constraint, key)
            return None
        return number

    def enum_values(self, node: Any, key: str) -> Iterator[Option]:
        for value in _children(node, _VALUE):
            ident = value.get("id")
            if not ident:
                self.problem("A camunda:value needs an id", value, key)
                continue
            yield Option(ident, value.get("name") or ident)


def _as_int(value: Decimal | None) -> int | None:
    return None if value is None else int(value)


def _default(kind: str, raw: str | None) -> Any:
    # Defaults may be expressions (${...}) resolved at run time; keep those as written.
    if raw is None or raw.startswith(("${", "#{")):
        return raw
    if kind == "long":
        try:
            return int(raw)
        except ValueError:
            return raw
    if kind == "boolean" and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def load_camunda_form_data(element: Any, filename: str) -> Form:
    """Build the form of a user task element (lxml) from its camunda:formData.

    A task without formData yields a form with no fields.
    """
    loader = _Loader(filename)
    fields: list[FormField] = []
    seen: set[str] = set()
    for extension in (child for child in element if _local(child.tag) == "extensionElements"):
        for form_data in _children(extension, _FORM_DATA):
            for node in _children(form_data, _FORM_FIELD):
                built = loader.field(node)
                if built is None:
                    continue
                if built.key in seen:
                    loader.problem(f"Form field id {built.key!r} is used twice", node, built.key)
                seen.add(built.key)
                fields.append(built)
    if loader.problems:
        raise DefinitionError(loader.problems)
    return Form(id=element.get("id") or "", fields=fields, title=element.get("name"), file=filename)
