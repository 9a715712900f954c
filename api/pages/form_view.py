"""A task form between the engine's form model and an HTML form.

``build`` turns the form model, the case data and the values typed so far into what the
template draws: one view per field in the designer's order with the text blocks between
them, each with its options, HTML constraints, errors and whether a condition hides it.
``read_submission`` turns the posted fields back into the typed values the engine validates
(numbers and dates as text, which the engine's checks read; options by their value).

The engine's ``validate_submission`` stays the one check that counts: the HTML attributes
(required, min, max, pattern) only spare people a round trip.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from engine.errors import FieldError
from engine.forms.model import MULTIPLE_TYPES, OPTION_TYPES, Form, FormField, Option
from engine.forms.validation import MISSING, FieldCheck, empty_value, options_for, value_at

from .display import show_value, zone
from .form_text import render_text, text_hidden

ADD_ROW = "_add_row"
_ROW_NAME = re.compile(r"(.+)\[(\d+)\]\.(.+)")
# A list typed in a browser grows one row at a time; a form is not a spreadsheet.
MAX_ROWS = 200


def option_text(value: Any) -> str:
    """An option's value as an HTML form sends it back: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class OptionView:
    value: str
    label: str
    chosen: bool


@dataclass
class FieldView:
    field: FormField
    name: str
    # What the input shows: text for inputs, True/False for a checkbox, options carry the choice.
    value: Any
    options: list[OptionView] | None
    hidden: bool
    readonly: bool
    errors: list[str] = dataclasses.field(default_factory=list)
    rows: list[list[FieldView]] = dataclasses.field(default_factory=list)

    @property
    def id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)

    @property
    def widget(self) -> str:
        """Which input draws it: text, email, tel, textarea, number, checkbox, select, radio,
        checklist, date, time, datetime-local, list, or choice-text (options unknown here)."""
        f = self.field
        if f.type == "textfield":
            return {"email": "email", "phone": "tel"}.get(f.validation_type or "", "text")
        if f.type in ("select", "radio") and self.options is None:
            return "choice-text"
        if f.type == "taglist":
            return "checklist"
        if f.type == "datetime":
            return {"date": "date", "time": "time", "datetime": "datetime-local"}[f.subtype or "date"]
        if f.type == "dynamiclist":
            return "list"
        return f.type

    @property
    def step(self) -> str:
        f = self.field
        if f.increment is not None:
            return _number_text(f.increment)
        if f.decimal_digits is not None:
            return _number_text(Decimal(1).scaleb(-f.decimal_digits))
        return "any"

    @property
    def shown_value(self) -> str:
        """A read-only field's value as text."""
        if self.options is not None:
            chosen = [o.label for o in self.options if o.chosen]
            return ", ".join(chosen) if chosen else "—"
        if isinstance(self.value, bool):
            return "yes" if self.value else "no"
        return self.value if isinstance(self.value, str) and self.value else "—"


@dataclass
class TextView:
    html: Markup
    hidden: bool
    index: int

    @property
    def id(self) -> str:
        return f"text-{self.index}"


@dataclass
class FormView:
    entries: list[FieldView | TextView]
    # Errors that belong to no field on the page (a key the form does not know, a bad request).
    general_errors: list[str]

    def fields(self) -> list[FieldView]:
        return [e for e in self.entries if isinstance(e, FieldView)]

    def problems(self) -> list[tuple[str, str]]:
        """(input id, message) of every field problem, list rows included: the summary above a
        refused form links each to its field."""
        found: list[tuple[str, str]] = []

        def visit(views: list[FieldView]) -> None:
            for view in views:
                found.extend((view.id, message) for message in view.errors)
                for row in view.rows:
                    visit(row)

        visit(self.fields())
        return found


def _number_text(number: Decimal) -> str:
    return format(number.normalize(), "f")


# The engine's own readings of a field's conditions, so that the page shows and sends exactly
# what the engine's check will take (its reader keeps no state of its own for these).
_ENGINE_RULES = FieldCheck({})


def _hidden(f: FormField, scope: Mapping[str, Any]) -> bool:
    """Hidden when a condition surely holds; one this server cannot read leaves it shown."""
    return _ENGINE_RULES.hidden(f, scope) is True


def _readonly(f: FormField, scope: Mapping[str, Any]) -> bool:
    return _ENGINE_RULES.readonly(f, scope)


def _local_datetime(value: str) -> str:
    """A stored date-time with offset as a ``datetime-local`` input shows it, in office time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone())
    return moment.strftime("%Y-%m-%dT%H:%M")


def _input_value(f: FormField, value: Any) -> Any:
    if f.type == "checkbox":
        return value is True or (isinstance(value, str) and value.strip().lower() == "true")
    if value is None:
        return ""
    if f.type == "datetime" and f.subtype == "datetime" and isinstance(value, str):
        return _local_datetime(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return show_value(value)


def _options(options: Sequence[Option] | None, value: Any, multiple: bool) -> list[OptionView] | None:
    if options is None:
        return None
    if multiple:
        chosen = {option_text(v) for v in value} if isinstance(value, list) else set()
    else:
        chosen = {option_text(value)} if value is not None and value != "" else set()
    return [OptionView(option_text(o.value), o.label, option_text(o.value) in chosen) for o in options]


class _Builder:
    def __init__(self, context: Mapping[str, Any], errors: Sequence[FieldError]) -> None:
        self.context = context
        self.errors: dict[str, list[str]] = {}
        for error in errors:
            self.errors.setdefault(error.field, []).append(error.message)
        self.used: set[str] = set()

    def view(
        self,
        f: FormField,
        name: str,
        values: Mapping[str, Any],
        scope: Mapping[str, Any],
        extra_rows: int = 0,
    ) -> FieldView:
        value = value_at(values, f.key)
        if value is MISSING:
            value = f.default
        options = options_for(f, self.context) if f.type in OPTION_TYPES else None
        plain = f.type not in OPTION_TYPES and f.type != "dynamiclist"
        view = FieldView(
            field=f,
            name=name,
            value=_input_value(f, value) if plain else None,
            options=_options(options, value, f.type in MULTIPLE_TYPES),
            hidden=_hidden(f, scope),
            readonly=_readonly(f, scope),
            errors=self.take_errors(name),
        )
        if f.type == "dynamiclist":
            items = [i for i in value if isinstance(i, Mapping)] if isinstance(value, list) else []
            # There is always a row to type into, and one more when asked for.
            items += [{}] * max(extra_rows, 1 - len(items))
            view.rows = [
                [self.view(c, f"{name}[{index}].{c.key}", item, {**scope, **item}) for c in f.fields]
                for index, item in enumerate(items[:MAX_ROWS])
            ]
        return view

    def take_errors(self, name: str) -> list[str]:
        self.used.add(name)
        return self.errors.get(name, [])

    def leftover(self) -> list[str]:
        unused = (item for item in self.errors.items() if item[0] not in self.used)
        return [f"{name}: {message}" for name, messages in unused for message in messages]


def build(
    form: Form,
    context: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    errors: Sequence[FieldError] = (),
    extra_rows: Mapping[str, int] | None = None,
) -> FormView:
    """The form as the page shows it, filled from ``values`` (what was typed) or the case data."""
    typed = context if values is None else values
    # As form-js starts a form: a field the data does not fill holds its default or empty value
    # (an unchecked checkbox is false), and conditions read those.
    initial = {f.key: empty_value(f) if f.default is None else f.default for f in form.fields}
    scope = {**initial, **context, **typed}
    builder = _Builder(context, errors)
    entries: list[FieldView | TextView] = []
    for position, f in enumerate([*form.fields, None]):
        for index, block in enumerate(form.texts):
            if block.position == position:
                entries.append(TextView(render_text(block.text, scope), text_hidden(block, scope), index))
        if f is not None:
            entries.append(builder.view(f, f.key, typed, scope, (extra_rows or {}).get(f.key, 0)))
    return FormView(entries, builder.leftover())


# -- reading a posted form ---------------------------------------------------------------------


def _choice(options: Sequence[Option] | None, raw: str) -> Any:
    for option in options or ():
        if option_text(option.value) == raw:
            return option.value
    return raw  # not an option: the engine's check names it


def _datetime_value(raw: str) -> str:
    """``datetime-local`` sends office wall time; the engine stores it with its offset."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone())
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


def _read_value(f: FormField, posted: MultiDict[str, str], name: str, context: Mapping[str, Any]) -> Any:
    if f.type == "checkbox":
        return name in posted
    if f.type in MULTIPLE_TYPES:
        options = options_for(f, context)
        return [_choice(options, raw) for raw in posted.getlist(name)]
    raw = posted.get(name)
    if raw is None:
        return None
    if f.type in ("select", "radio"):
        return _choice(options_for(f, context), raw) if raw != "" else None
    if f.type == "textarea":
        return raw.replace("\r\n", "\n")  # browsers send line breaks as CRLF
    if f.type == "datetime" and f.subtype == "datetime" and raw.strip():
        return _datetime_value(raw.strip())
    return raw


def _rows_of(posted: MultiDict[str, str], list_name: str) -> list[int]:
    indexes = set()
    for key in posted:
        match = _ROW_NAME.fullmatch(key)
        if match and match.group(1) == list_name:
            indexes.add(int(match.group(2)))
    return sorted(i for i in indexes if i < MAX_ROWS)


def _is_blank(item: Mapping[str, Any]) -> bool:
    return all(v in (None, "", False, []) for v in item.values())


def read_submission(form: Form, posted: MultiDict[str, str], context: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values of the posted fields the engine should see.

    Fields a condition hides and read-only fields are left out, as form-js leaves them out:
    the engine ignores the former and keeps the stored value of the latter. Checkbox lists
    and list rows arrive as several fields; a list row left entirely empty is dropped.
    """
    data: dict[str, Any] = {}
    fields = [f for f in form.fields if f.type != "dynamiclist"]
    for f in fields:
        data[f.key] = _read_value(f, posted, f.key, context)
    scope = {**context, **data}
    submission: dict[str, Any] = {}
    for f in form.fields:
        if _hidden(f, scope) or _readonly(f, scope):
            continue
        if f.type != "dynamiclist":
            if data[f.key] is not None:
                submission[f.key] = data[f.key]
            continue
        rows = []
        for index in _rows_of(posted, f.key):
            item = {c.key: _read_value(c, posted, f"{f.key}[{index}].{c.key}", context) for c in f.fields}
            item = {k: v for k, v in item.items() if v is not None}
            if not _is_blank(item):
                rows.append(item)
        submission[f.key] = rows
    return submission


def rows_to_add(form: Form, posted: MultiDict[str, str]) -> dict[str, int]:
    """``{"items": 1}`` when the person pressed "add a row" under the list ``items``."""
    wanted = posted.get(ADD_ROW)
    lists = {f.key for f in form.fields if f.type == "dynamiclist"}
    return {wanted: 1} if wanted in lists else {}


def hidden_ids(view: FormView) -> list[str]:
    """The ids of the entries a condition hides now, list rows' fields included (the page's
    script hides them as people type)."""
    found = [entry.id for entry in view.entries if entry.hidden]
    rows = [row for f in view.fields() for row in f.rows]
    while rows:
        row = rows.pop()
        found += [child.id for child in row if child.hidden]
        rows += [nested for child in row for nested in child.rows]
    return found
