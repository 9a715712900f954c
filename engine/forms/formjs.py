"""Load a form-js form file (`forms/<name>.form`, as Camunda Modeler's form editor writes it)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from engine.errors import DefinitionError, Problem
from engine.forms.jsonpos import LINE_KEY, loads_with_lines, without_lines
from engine.forms.model import (
    MULTIPLE_TYPES,
    OPTION_TYPES,
    DateSubtype,
    Form,
    FormField,
    FormText,
    Option,
    ValidationType,
    ValueType,
)
from engine.json_values import UnfitJson, loads

_VALUE_TYPES: frozenset[str] = frozenset(
    {"textfield", "textarea", "number", "checkbox", "datetime"} | OPTION_TYPES
)
# Components that only show something; nothing of theirs is submitted.
_DISPLAY_TYPES: frozenset[str] = frozenset(
    {"text", "html", "image", "spacer", "separator", "button", "iframe", "table", "documentPreview"}
)
_CONTAINER_TYPES: frozenset[str] = frozenset({"group", "dynamiclist"})
# Known form-js types whose value the server cannot produce or check; refusing them at
# deployment beats silently storing whatever a client claims they computed.
_UNSUPPORTED_TYPES: dict[str, str] = {
    "expression": "its value is computed by the browser and cannot be trusted or recomputed here",
    "filepicker": "file uploads are not supported by this engine",
}
_SUBTYPES: frozenset[str] = frozenset({"date", "time", "datetime"})

# Far deeper than any form (each group or dynamic list adds two levels); the readers recurse.
MAX_FORM_DEPTH = 64


class _Loader:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        # Top-level fields loaded so far, and how deep inside dynamic lists the loader is:
        # a text's position counts the former; texts inside list items are not kept.
        self.fields: list[FormField] = []
        self.list_depth = 0
        self.texts: list[FormText] = []

    def problem(self, message: str, line: int | None, element_id: str | None = None) -> None:
        self.problems.append(Problem(message, file=self.filename, line=line, element_id=element_id))

    def load(self, root: Any) -> Form:
        if not isinstance(root, dict):
            self.problem("A form file must contain a JSON object", 1)
            raise DefinitionError(self.problems)
        line = root.get(LINE_KEY)
        if root.get("type", "default") != "default":
            self.problem(f'The form root must have type "default", not {root.get("type")!r}', line)
        form_id = root.get("id")
        if not isinstance(form_id, str) or not form_id:
            self.problem('The form has no "id"; user tasks refer to forms by it', line)
            form_id = ""
        components = root.get("components")
        if not isinstance(components, list):
            self.problem('The form has no "components" list', line, form_id or None)
            components = []
        fields = self.fields
        for loaded in self.components(components, prefix="", hide=()):
            fields.append(loaded)  # one by one: a text's position is len(self.fields) when met
        self.check_keys(fields)
        if self.problems:
            raise DefinitionError(self.problems)
        title = root.get("label") or root.get("name")
        return Form(
            id=form_id,
            fields=fields,
            title=title if isinstance(title, str) else None,
            file=self.filename,
            texts=tuple(self.texts),
        )

    def check_keys(self, fields: list[FormField]) -> None:
        seen: set[str] = set()
        for f in _walk(fields):
            if f.key in seen:
                self.problem(f"Key {f.key!r} is used by more than one form field", f.line, f.key)
            seen.add(f.key)
        # "a" and "a.b" cannot both be stored: the value of a would have to be an object.
        for f in _walk(fields):
            if any(other.startswith(f.key + ".") for other in seen):
                self.problem(f"Key {f.key!r} is also used as the parent of other keys", f.line, f.key)

    def components(self, items: list[Any], prefix: str, hide: tuple[str, ...]) -> Iterator[FormField]:
        for item in items:
            if not isinstance(item, dict):
                self.problem('Every entry of "components" must be an object', None)
                continue
            yield from self.component(item, prefix, hide)

    def component(self, item: dict[str, Any], prefix: str, hide: tuple[str, ...]) -> Iterator[FormField]:
        line = item.get(LINE_KEY)
        kind = item.get("type")
        ident = item.get("key") or item.get("id")
        ident = ident if isinstance(ident, str) else None
        hide = hide + self.hide_condition(item, line, ident)
        if kind in _DISPLAY_TYPES:
            text = item.get("text")
            if kind == "text" and isinstance(text, str) and text.strip() and self.list_depth == 0:
                self.texts.append(FormText(text, len(self.fields), hide))
            return
        if kind in _CONTAINER_TYPES:
            yield from self.container(item, cast(str, kind), prefix, hide)
        elif kind in _VALUE_TYPES:
            built = self.value_field(item, cast(ValueType, kind), prefix, hide)
            if built is not None:
                yield built
        elif isinstance(kind, str) and kind in _UNSUPPORTED_TYPES:
            self.problem(f"Component type {kind!r} is not supported: {_UNSUPPORTED_TYPES[kind]}", line, ident)
        else:
            known = ", ".join(sorted(_VALUE_TYPES | _DISPLAY_TYPES | _CONTAINER_TYPES))
            self.problem(f"Unknown form component type {kind!r} (known types: {known})", line, ident)

    def hide_condition(self, item: dict[str, Any], line: int | None, ident: str | None) -> tuple[str, ...]:
        conditional = item.get("conditional")
        if conditional is None:
            return ()
        hide = conditional.get("hide") if isinstance(conditional, dict) else None
        if hide is None:
            return ()
        if isinstance(hide, bool):
            return ("=true",) if hide else ()
        if not isinstance(hide, str):
            self.problem("conditional.hide must be a FEEL expression text", line, ident)
            return ()
        return (hide,) if hide.strip() else ()

    def container(
        self, item: dict[str, Any], kind: str, prefix: str, hide: tuple[str, ...]
    ) -> Iterator[FormField]:
        line = item.get(LINE_KEY)
        path = item.get("path")
        children = item.get("components", [])
        ident = path if isinstance(path, str) and path else item.get("id")
        if not isinstance(children, list):
            self.problem(f'The {kind} has a "components" that is not a list', line, ident)
            return
        if kind == "group":
            nested = f"{prefix}{path}." if isinstance(path, str) and path else prefix
            yield from self.components(children, nested, hide)
            return
        if not isinstance(path, str) or not path:
            self.problem('A dynamic list needs a "path" naming the list variable', line, ident)
            return
        label = item.get("label")
        self.list_depth += 1
        try:
            items = tuple(self.components(children, "", ()))
        finally:
            self.list_depth -= 1
        yield FormField(
            key=prefix + path,
            label=label if isinstance(label, str) and label else path,
            type="dynamiclist",
            fields=items,
            hide_conditions=hide,
            line=line,
        )

    def value_field(
        self, item: dict[str, Any], kind: ValueType, prefix: str, hide: tuple[str, ...]
    ) -> FormField | None:
        line = item.get(LINE_KEY)
        key = item.get("key")
        if not isinstance(key, str) or not key.strip():
            self.problem(f'The {kind} component has no "key"', line, item.get("id"))
            return None
        validate = item.get("validate") or {}
        if not isinstance(validate, dict):
            self.problem('"validate" must be an object', line, key)
            validate = {}
        labels = (item.get(name) for name in ("label", "dateLabel", "timeLabel"))
        label = next((v for v in labels if isinstance(v, str) and v), key)
        readonly = item.get("readonly", False)
        options, options_from = self.options(item, kind, line, key)
        return FormField(
            key=prefix + key,
            label=label,
            type=kind,
            required=bool(validate.get("required", False)),
            description=item.get("description") if isinstance(item.get("description"), str) else None,
            min=self.number(validate, "min", line, key),
            max=self.number(validate, "max", line, key),
            min_length=self.count(validate, "minLength", line, key),
            max_length=self.count(validate, "maxLength", line, key),
            pattern=self.pattern(validate, line, key),
            validation_type=self.validation_type(validate, line, key),
            options=options,
            options_from=options_from,
            default=without_lines(item.get("defaultValue")),
            readonly=readonly is True,
            readonly_expression=readonly if isinstance(readonly, str) and readonly.strip() else None,
            disabled=item.get("disabled") is True,
            multiple=kind in MULTIPLE_TYPES,
            subtype=self.subtype(item, line, key) if kind == "datetime" else None,
            disallow_past_dates=item.get("disallowPassedDates") is True,
            decimal_digits=self.count(item, "decimalDigits", line, key),
            increment=self.increment(item, line, key),
            serialize_to_string=item.get("serializeToString") is True,
            hide_conditions=hide,
            line=line,
        )

    def options(
        self, item: dict[str, Any], kind: str, line: int | None, key: str
    ) -> tuple[tuple[Option, ...] | None, str | None]:
        if kind not in OPTION_TYPES:
            return None, None
        for source in ("valuesKey", "valuesExpression"):
            value = item.get(source)
            if isinstance(value, str) and value.strip():
                return None, value.strip()
        values = item.get("values", [])
        if not isinstance(values, list):
            self.problem('"values" must be a list of {label, value}', line, key)
            return (), None
        options: list[Option] = []
        for entry in values:
            if not isinstance(entry, dict) or "value" not in entry:
                self.problem('Every option in "values" needs a "value"', line, key)
                continue
            label = entry.get("label")
            value = without_lines(entry["value"])
            options.append(Option(value, label if isinstance(label, str) else str(value)))
        return tuple(options), None

    def number(self, source: dict[str, Any], name: str, line: int | None, key: str) -> Decimal | None:
        value = source.get(name)
        if value is None or value == "":
            return None
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            return Decimal(str(value))
        except InvalidOperation:
            self.problem(f"{name} must be a number, not {value!r}", line, key)
            return None

    def count(self, source: dict[str, Any], name: str, line: int | None, key: str) -> int | None:
        value = source.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(f"{name} must be a whole number of at least 0, not {value!r}", line, key)
            return None
        return value

    def increment(self, item: dict[str, Any], line: int | None, key: str) -> Decimal | None:
        value = self.number(item, "increment", line, key)
        if value is not None and value <= 0:
            self.problem("increment must be greater than 0", line, key)
            return None
        return value

    def pattern(self, validate: dict[str, Any], line: int | None, key: str) -> str | None:
        pattern = validate.get("pattern")
        if pattern is None or pattern == "":
            return None
        if not isinstance(pattern, str):
            self.problem("validate.pattern must be a regular expression text", line, key)
            return None
        try:
            re.compile(pattern)
        except re.error as exc:
            self.problem(f"validate.pattern is not a valid regular expression: {exc}", line, key)
            return None
        return pattern

    def validation_type(self, validate: dict[str, Any], line: int | None, key: str) -> ValidationType | None:
        kind = validate.get("validationType")
        if kind in (None, "", "custom"):
            return None
        if kind not in ("email", "phone"):
            self.problem(f"validate.validationType must be email or phone, not {kind!r}", line, key)
            return None
        return cast(ValidationType, kind)

    def subtype(self, item: dict[str, Any], line: int | None, key: str) -> DateSubtype:
        subtype = item.get("subtype", "date")
        if subtype not in _SUBTYPES:
            self.problem(f"A datetime subtype must be date, time or datetime, not {subtype!r}", line, key)
            return "date"
        return cast(DateSubtype, subtype)


def _walk(fields: list[FormField]) -> Iterator[FormField]:
    # Dynamic-list item keys live in their own namespace (one per item), so only the
    # list itself competes with the top-level keys; its items are checked among themselves.
    yield from fields
    for f in fields:
        if f.fields:
            yield from _walk_items(f)


def _walk_items(list_field: FormField) -> Iterator[FormField]:
    for child in _walk(list(list_field.fields)):
        key = f"{list_field.key}[].{child.key}"
        yield FormField(key=key, label=child.label, type=child.type, line=child.line)


def load_formjs(text: str, filename: str) -> Form:
    """Parse a form-js file; every problem found is reported in one DefinitionError."""
    try:
        # Refuses first what the recursive readers below cannot take (a 500 instead of a problem).
        loads(text, MAX_FORM_DEPTH, "the form")
        root = loads_with_lines(text)
    except UnfitJson as exc:
        raise DefinitionError([Problem(f"{exc}", file=filename, line=1)]) from exc
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [Problem(f"Not valid JSON: {exc.msg} (column {exc.colno})", file=filename, line=exc.lineno)]
        ) from exc
    return _Loader(filename).load(root)
