"""A JSON-able description of a form, for the API to render a task's form."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from engine.forms.model import Form, FormField
from engine.forms.validation import options_for


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _field(f: FormField, context: Mapping[str, Any] | None) -> dict[str, Any]:
    options = options_for(f, context) if context is not None else f.options
    described: dict[str, Any] = {
        "key": f.key,
        "label": f.label,
        "type": f.type,
        "required": f.required,
        "readonly": f.readonly,
        "disabled": f.disabled,
        "multiple": f.multiple,
        "description": f.description,
        "default": f.default,
        "options": None if options is None else [{"value": o.value, "label": o.label} for o in options],
        "options_from": f.options_from,
        "min": _number(f.min),
        "max": _number(f.max),
        "min_length": f.min_length,
        "max_length": f.max_length,
        "pattern": f.pattern,
        "validation_type": f.validation_type,
        "subtype": f.subtype,
        "date_pattern": f.date_pattern,
        "disallow_past_dates": f.disallow_past_dates,
        "decimal_digits": f.decimal_digits,
        "increment": _number(f.increment),
        "readonly_expression": f.readonly_expression,
        "hide_conditions": list(f.hide_conditions),
    }
    if f.type == "dynamiclist":
        described["fields"] = [_field(child, None) for child in f.fields]
    return described


def form_summary(form: Form, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Describe the form; with `context`, run-time options (valuesKey) are filled in."""
    return {
        "id": form.id,
        "title": form.title,
        "fields": [_field(f, context) for f in form.fields],
    }
