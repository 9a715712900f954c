"""Server-side check of a task form submission, done before anything is stored.

The browser's form-js validation is a convenience for staff; this is the check that
counts. Every bad field is reported at once so the API can mark them all.

Hidden fields: form-js drops the values of hidden fields on submit, so a field whose
`conditional.hide` holds is ignored (neither required nor stored). When a hide condition
uses FEEL this engine cannot evaluate, the field might be hidden, so it is not required
but a value given for it is still checked. Readonly/disabled fields keep the value
already in the case data: echoing it back is fine, changing it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import FieldError, ValidationError
from engine.forms.conditions import evaluate_condition
from engine.forms.model import MULTIPLE_TYPES, Form, FormField, Option
from engine.forms.values import (
    check_checkbox,
    check_choice,
    check_datetime,
    check_multiple,
    check_number,
    check_text,
)

MISSING = object()
_SIMPLE_PATH = re.compile(r"=\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*")


def value_at(data: Mapping[str, Any], key: str) -> Any:
    """The value at a dotted key: nested objects as form-js writes them, or a flat dotted key."""
    if key in data:
        return data[key]
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key, as nested objects. Each object on the way is copied, never changed in
    place, so `out` may share them with the case data it started from."""
    *parents, last = key.split(".")
    for part in parents:
        inner = out.get(part)
        out[part] = dict(inner) if isinstance(inner, Mapping) else {}
        out = out[part]
    out[last] = value


def empty_value(f: FormField) -> Any:
    if f.type == "checkbox":
        return False
    if f.type in MULTIPLE_TYPES or f.type == "dynamiclist":
        return []
    return "" if f.type in ("textfield", "textarea") else None


def _is_empty(f: FormField, value: Any) -> bool:
    if value is None or value is MISSING:
        return True
    if f.type == "checkbox":
        # An unchecked required checkbox counts as unanswered, as in form-js.
        return value is False or (isinstance(value, str) and value.strip().lower() in ("", "false"))
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, list):
        return len(value) == 0
    return False


def options_for(f: FormField, context: Mapping[str, Any]) -> tuple[Option, ...] | None:
    """The options a field offers; None when they cannot be known on the server.

    Run-time options come from the case data only, never from the submission, so a client
    cannot widen the choice by sending its own list.
    """
    if f.options is not None or f.options_from is None:
        return f.options
    source = f.options_from
    if source.startswith("="):
        match = _SIMPLE_PATH.fullmatch(source)
        if match is None:
            return None
        source = match.group(1)
    found = value_at(context, source)
    if not isinstance(found, list):
        return ()
    options: list[Option] = []
    for entry in found:
        if isinstance(entry, Mapping) and "value" in entry:
            options.append(Option(entry["value"], str(entry.get("label", entry["value"]))))
        elif not isinstance(entry, (Mapping, list)):
            options.append(Option(entry, str(entry)))
    return tuple(options)


def condition_scope(
    base: Mapping[str, Any], fields: Sequence[FormField], data: Mapping[str, Any]
) -> dict[str, Any]:
    """What hide and readonly conditions see: `base` with the submitted values of `fields` over it.

    Only the form's own fields override: other submitted keys (case data echoed back, or
    anything a client adds) must not flip a condition that hides, shows or unlocks a field.
    """
    scope = dict(base)
    for f in fields:
        raw = value_at(data, f.key)
        if raw is not MISSING:
            _put(scope, f.key, raw)
    return scope


class FieldCheck:
    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context
        self.errors: list[FieldError] = []

    def fail(self, name: str, messages: Sequence[str]) -> None:
        self.errors.extend(FieldError(name, m) for m in messages)

    def fields(
        self,
        fields: Sequence[FormField],
        data: Mapping[str, Any],
        scope: Mapping[str, Any],
        current: Mapping[str, Any],
        prefix: str,
    ) -> dict[str, Any]:
        """Cleaned values of one level: the form, or one item of a dynamic list.

        `current` holds what is already stored for this level (readonly values come from it).
        """
        out: dict[str, Any] = {}
        for f in fields:
            name = prefix + f.key
            hidden = self.hidden(f, scope)
            if hidden is True:
                continue
            raw = value_at(data, f.key)
            if self.readonly(f, scope):
                stored = value_at(current, f.key)
                if raw is not MISSING and raw != (None if stored is MISSING else stored):
                    self.fail(name, [f"{f.label} is read-only and cannot be changed"])
                continue
            if _is_empty(f, raw):
                if f.required and hidden is False:
                    verb = "must be checked" if f.type == "checkbox" else "is required"
                    self.fail(name, [f"{f.label} {verb}"])
                elif raw is not MISSING:
                    _put(out, f.key, empty_value(f))
                elif f.type == "checkbox" and hidden is False and value_at(current, f.key) is MISSING:
                    # Browsers and most clients send nothing for an unticked box; it is false (or
                    # its default), so gateways and handlers reading it find a value. A box the
                    # case already holds keeps it, as form-js shows it ticked or not from the data.
                    _put(out, f.key, f.default if isinstance(f.default, bool) else False)
                continue
            value, problems = self.value(f, raw, scope, current, name)
            self.fail(name, problems)
            if not problems:
                _put(out, f.key, value)
        self.unknown({f.key for f in fields}, data, "", prefix)
        return out

    def hidden(self, f: FormField, scope: Mapping[str, Any]) -> bool | None:
        results = [evaluate_condition(c, scope) for c in f.hide_conditions]
        if any(r is True for r in results):
            return True
        return None if None in results else False

    def readonly(self, f: FormField, scope: Mapping[str, Any]) -> bool:
        if f.readonly or f.disabled:
            return True
        if f.readonly_expression is None:
            return False
        # When the condition cannot be decided, protect the stored value.
        return evaluate_condition(f.readonly_expression, scope) is not False

    def value(
        self, f: FormField, raw: Any, scope: Mapping[str, Any], current: Mapping[str, Any], name: str
    ) -> tuple[Any, list[str]]:
        if f.type in ("textfield", "textarea"):
            return check_text(f, raw)
        if f.type == "number":
            return check_number(f, raw)
        if f.type == "checkbox":
            return check_checkbox(f, raw)
        if f.type == "datetime":
            return check_datetime(f, raw)
        if f.type in MULTIPLE_TYPES:
            return check_multiple(f, raw, options_for(f, self.context))
        if f.type in ("select", "radio"):
            return check_choice(f, raw, options_for(f, self.context))
        return self.items(f, raw, scope, current, name)

    def items(
        self, f: FormField, raw: Any, scope: Mapping[str, Any], current: Mapping[str, Any], name: str
    ) -> tuple[Any, list[str]]:
        if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
            return raw, [f"{f.label} must be a list of entries"]
        stored = value_at(current, f.key)
        stored_items = stored if isinstance(stored, list) else []
        cleaned = []
        for index, item in enumerate(raw):
            before = stored_items[index] if index < len(stored_items) else {}
            before = before if isinstance(before, Mapping) else {}
            item_scope = condition_scope(scope, f.fields, item)
            cleaned.append(self.fields(f.fields, item, item_scope, before, f"{name}[{index}]."))
        return cleaned, []

    def unknown(self, keys: set[str], data: Mapping[str, Any], path: str, prefix: str) -> None:
        """Refuse submitted keys no field asks for: they would be stored unchecked."""
        for key, value in data.items():
            full = path + str(key)
            if full in keys:
                continue
            if isinstance(value, Mapping) and any(k.startswith(full + ".") for k in keys):
                self.unknown(keys, value, full + ".", prefix)
            elif not (full == key and not prefix and key in self.context):
                # Clients (form-js included) send the case data they were shown back with
                # the answers; those keys are simply not taken from the submission.
                self.fail(prefix + full, [f"{prefix + full} is not a field of this form"])


def validate_submission(
    form: Form, data: Mapping[str, Any], context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The cleaned values of an acceptable submission; ValidationError listing every bad field.

    `context` is the case data the task was shown with: it supplies run-time options
    (`valuesKey`), the values of readonly fields and the data hide and readonly conditions
    look at. Its keys may be sent back and are then ignored: conditions see the submitted
    values of the form's fields only.
    """
    context = context or {}
    if not isinstance(data, Mapping):
        raise ValidationError("A form submission must be an object of field values")
    check = FieldCheck(context)
    cleaned = check.fields(form.fields, data, condition_scope(context, form.fields, data), context, "")
    if check.errors:
        names = sorted({e.field for e in check.errors})
        raise ValidationError(f"The {form.id} form was not accepted: check {', '.join(names)}", check.errors)
    return cleaned
