"""The engine's own picture of a form, independent of the file format it came from.

Both form-js files and Camunda 7 `camunda:formData` load into these classes, so showing
and validating a task form is one code path whatever the modeler wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

# form-js component types that carry a value; Camunda formData types are mapped onto these.
ValueType = Literal[
    "textfield",
    "textarea",
    "number",
    "checkbox",
    "select",
    "radio",
    "checklist",
    "taglist",
    "datetime",
    "dynamiclist",
]
DateSubtype = Literal["date", "time", "datetime"]
ValidationType = Literal["email", "phone"]

OPTION_TYPES: frozenset[str] = frozenset({"select", "radio", "checklist", "taglist"})
MULTIPLE_TYPES: frozenset[str] = frozenset({"checklist", "taglist"})


@dataclass(frozen=True)
class Option:
    value: Any
    label: str


@dataclass(frozen=True)
class FormField:
    """One value a person fills in.

    `key` is the full dotted path of the value in the submitted data: form-js nests the
    values of a group with a `path` (and dotted keys) into sub-objects.
    """

    key: str
    label: str
    type: ValueType
    required: bool = False
    description: str | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    validation_type: ValidationType | None = None
    # None means the options are not a fixed list (free input or supplied at run time).
    options: tuple[Option, ...] | None = None
    # form-js `valuesKey` / `valuesExpression`: options come from instance data when shown.
    options_from: str | None = None
    default: Any = None
    readonly: bool = False
    # form-js allows `readonly` to be a FEEL expression; kept raw and decided per submission.
    readonly_expression: str | None = None
    disabled: bool = False
    multiple: bool = False
    subtype: DateSubtype | None = None
    # A Java SimpleDateFormat pattern from Camunda 7 (`camunda:formField datePattern`).
    date_pattern: str | None = None
    disallow_past_dates: bool = False
    decimal_digits: int | None = None
    increment: Decimal | None = None
    # form-js `serializeToString`: the number is stored as its decimal text.
    serialize_to_string: bool = False
    # Raw FEEL `conditional.hide` texts of the field and every enclosing group; the field
    # is hidden when any of them holds.
    hide_conditions: tuple[str, ...] = ()
    # Item fields of a dynamic list, keyed relative to one item.
    fields: tuple[FormField, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class FormText:
    """A form-js ``text`` component: Markdown with ``{{variable}}`` templates showing case data.

    Nothing of it is submitted; it is kept so that pages can show a task's form as designed.
    """

    text: str
    # How many entries of the form's ``fields`` come before it: where it stands among them.
    position: int
    hide_conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Form:
    id: str
    fields: list[FormField] = field(default_factory=list)
    title: str | None = None
    file: str | None = None
    texts: tuple[FormText, ...] = ()

    def get_field(self, key: str) -> FormField | None:
        return next((f for f in self.fields if f.key == key), None)
