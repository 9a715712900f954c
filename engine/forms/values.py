"""Check and coerce one submitted value against one form field.

Each checker returns the cleaned value and the list of human-readable problems; an empty
list means the value is accepted. Values arrive from JSON, so only JSON types are taken,
plus the text forms Camunda 7 generated forms post (numbers and booleans as strings).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from engine.forms.model import FormField, Option

# Same shape as form-js' EMAIL_PATTERN: a local part, then dot-separated host labels.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# form-js lists every country calling code; an international prefix and 7-24 digits keeps
# its intent (international format only) without copying the table.
_PHONE = re.compile(r"(?:\+|00)[1-9]\d{6,23}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T" + _TIME.pattern)
_JAVA_DATE_TOKENS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}

Checked = tuple[Any, list[str]]


def show(number: Decimal) -> str:
    """A number as people write it: 10000, not 1E+4 or 10000.00."""
    return format(number.normalize(), "f")


def check_text(f: FormField, raw: Any) -> Checked:
    if not isinstance(raw, str):
        return raw, [f"{f.label} must be text"]
    problems: list[str] = []
    # form-js measures trimmed length, so surrounding blanks cannot pad a short answer.
    length = len(raw.strip())
    if f.min_length is not None and length < f.min_length:
        problems.append(f"{f.label} must be at least {f.min_length} characters long")
    if f.max_length is not None and length > f.max_length:
        problems.append(f"{f.label} must be at most {f.max_length} characters long")
    if f.pattern is not None and not re.fullmatch(f.pattern, raw):
        problems.append(f"{f.label} must match the pattern {f.pattern}")
    if f.validation_type == "email" and not _EMAIL.fullmatch(raw):
        problems.append(f"{f.label} must be a valid email address")
    if f.validation_type == "phone" and not _PHONE.fullmatch(raw):
        problems.append(f"{f.label} must be a valid international phone number (e.g. +4930664040900)")
    return raw, problems


def _to_decimal(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    try:
        number = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# The most digits a form number may have before the decimal point: a Camunda 7 `long`
# (up to 2**63 - 1) fits. Beyond it a value is no amount a form asks for, and it would cost
# time and memory (int() of 1e1000000 takes half a minute) or fail later (JSON, the database).
MAX_WHOLE_DIGITS = 19


def _step_problem(f: FormField, number: Decimal, step: Decimal) -> str | None:
    """What is wrong with `number` for the field's increment `step`; None when it is a multiple.

    Worked out with enough digits to be exact, so a large number with a fine step is still
    checked (the default 28 digits raise for 1e30 % 0.01), and the nearest valid values shown
    are the ones around it, for negative numbers too.
    """
    with localcontext() as exact:
        exact.prec = max(exact.prec, number.adjusted() - step.adjusted() + 3)
        try:
            off = number % step
        except InvalidOperation:
            return f"{f.label} must be a multiple of {show(step)}"
        if off == 0:
            return None
        below = number - (off if off > 0 else off + step)
        return (
            f"{f.label} must be a multiple of {show(step)} "
            f"(the nearest valid values are {show(below)} and {show(below + step)})"
        )


def check_number(f: FormField, raw: Any) -> Checked:
    number = _to_decimal(raw)
    if number is None:
        return raw, [f"{f.label} must be a number"]
    if number.adjusted() >= MAX_WHOLE_DIGITS:
        too_large = f"at most {MAX_WHOLE_DIGITS} digits before the decimal point"
        return raw, [f"{f.label} is too large a number ({too_large})"]
    problems: list[str] = []
    if f.decimal_digits is not None:
        exponent = number.normalize().as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if decimals > f.decimal_digits:
            expected = "a whole number" if f.decimal_digits == 0 else f"at most {f.decimal_digits} decimals"
            problems.append(f"{f.label} must have {expected}")
    if f.increment is not None:
        off_step = _step_problem(f, number, f.increment)
        if off_step is not None:
            problems.append(off_step)
    if f.min is not None and number < f.min:
        problems.append(f"{f.label} must be at least {show(f.min)}")
    if f.max is not None and number > f.max:
        problems.append(f"{f.label} must be at most {show(f.max)}")
    if problems:
        return raw, problems
    if f.serialize_to_string:
        return show(number), problems
    # Whole numbers are stored as int so that later comparisons and JSON stay exact.
    if number == number.to_integral_value():
        return int(number), problems
    return float(number), problems


def check_checkbox(f: FormField, raw: Any) -> Checked:
    if isinstance(raw, bool):
        return raw, []
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true", []
    return raw, [f"{f.label} must be true or false"]


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _match(options: Sequence[Option] | None, value: Any) -> bool:
    # Unknown options (an expression this engine cannot evaluate) admit any plain value.
    if options is None:
        return True
    # Compare with the type so that True does not pass for the option 1.
    return any(o.value == value and type(o.value) is type(value) for o in options)


def check_choice(f: FormField, raw: Any, options: Sequence[Option] | None) -> Checked:
    if not _is_scalar(raw):
        return raw, [f"{f.label} must be a single value"]
    if not _match(options, raw):
        return raw, [f"{f.label}: {raw!r} is not one of the options"]
    return raw, []


def check_multiple(f: FormField, raw: Any, options: Sequence[Option] | None) -> Checked:
    if not isinstance(raw, list) or not all(_is_scalar(v) for v in raw):
        return raw, [f"{f.label} must be a list of values"]
    chosen = list(dict.fromkeys(raw))
    wrong = [v for v in chosen if not _match(options, v)]
    if wrong:
        listed = ", ".join(repr(v) for v in wrong)
        return raw, [f"{f.label}: {listed} {'is' if len(wrong) == 1 else 'are'} not among the options"]
    return chosen, []


def _java_pattern(pattern: str) -> str:
    result = pattern.replace("%", "%%")
    for token, directive in _JAVA_DATE_TOKENS.items():
        result = result.replace(token, directive)
    return result


def _parse_date(f: FormField, text: str) -> date | None:
    if _DATE.fullmatch(text):
        return date.fromisoformat(text)
    if f.date_pattern:
        # Camunda 7 generated forms post dates in the field's datePattern.
        return datetime.strptime(text, _java_pattern(f.date_pattern)).date()
    return None


def _parse_datetime(f: FormField, text: str) -> tuple[str, date] | None:
    if f.subtype == "time":
        return (text, date.max) if _TIME.fullmatch(text) and time.fromisoformat(text) else None
    if f.subtype == "datetime":
        return (text, datetime.fromisoformat(text).date()) if _DATETIME.fullmatch(text) else None
    day = _parse_date(f, text)
    return (day.isoformat(), day) if day else None


def check_datetime(f: FormField, raw: Any) -> Checked:
    expected = {"date": "a date (YYYY-MM-DD)", "time": "a time (HH:MM)", "datetime": "a date and time"}
    wanted = expected[f.subtype or "date"]
    if not isinstance(raw, str):
        return raw, [f"{f.label} must be {wanted}"]
    try:
        parsed = _parse_datetime(f, raw.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        return raw, [f"{f.label} must be {wanted}"]
    text, day = parsed
    if f.disallow_past_dates and f.subtype != "time" and day < date.today():
        return text, [f"{f.label} cannot be in the past"]
    return text, []
