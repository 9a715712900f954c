"""Reading case variables in handlers: typed, with an error that names the variable and the step.

A variable a handler needs but does not find means the diagram or an earlier step is wrong;
the error says which variable and what was expected, so the incident tells an operator what
to fix instead of showing a KeyError.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class CaseDataError(ValueError):
    """A variable the handler needs is missing or has the wrong type."""


def _value(variables: Mapping[str, Any], name: str) -> Any:
    value = variables.get(name)
    if value is None or value == "":
        raise CaseDataError(f"Variable {name!r} is missing; an earlier step should have set it")
    return value


def text(variables: Mapping[str, Any], name: str) -> str:
    value = _value(variables, name)
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise CaseDataError(f"Variable {name!r} must be text, not {type(value).__name__}")
    return str(value).strip()


def optional_text(variables: Mapping[str, Any], name: str) -> str | None:
    value = variables.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return text(variables, name)


def number(variables: Mapping[str, Any], name: str) -> Decimal:
    value = _value(variables, name)
    if isinstance(value, bool):
        raise CaseDataError(f"Variable {name!r} must be a number, not a truth value")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise CaseDataError(f"Variable {name!r} must be a number, not {value!r}") from exc
    if not result.is_finite():
        raise CaseDataError(f"Variable {name!r} must be a finite number, not {value!r}")
    return result


def optional_number(variables: Mapping[str, Any], name: str) -> Decimal | None:
    return None if variables.get(name) in (None, "") else number(variables, name)


def integer(variables: Mapping[str, Any], name: str, default: int | None = None) -> int:
    if variables.get(name) in (None, "") and default is not None:
        return default
    value = number(variables, name)
    if value != value.to_integral_value():
        raise CaseDataError(f"Variable {name!r} must be a whole number, not {value}")
    return int(value)


def flag(variables: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = variables.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise CaseDataError(f"Variable {name!r} must be true or false, not {value!r}")


def day(variables: Mapping[str, Any], name: str) -> date:
    value = _value(variables, name)
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise CaseDataError(f"Variable {name!r} must be a date (YYYY-MM-DD), not {value!r}")


def moment(variables: Mapping[str, Any], name: str) -> datetime:
    """An ISO 8601 date-time with its offset (form-js ``utc_offset`` datetimes, handler time stamps)."""
    value = _value(variables, name)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                raise CaseDataError(f"Variable {name!r} must carry a UTC offset: {value!r}")
            return parsed
    raise CaseDataError(f"Variable {name!r} must be an ISO 8601 date-time, not {value!r}")


def optional_moment(variables: Mapping[str, Any], name: str) -> datetime | None:
    return None if variables.get(name) in (None, "") else moment(variables, name)


def string_list(variables: Mapping[str, Any], name: str) -> list[str]:
    value = variables.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CaseDataError(f"Variable {name!r} must be a list of texts, not {value!r}")
    return [v.strip() for v in value if v.strip()]


def money(value: Decimal) -> float:
    """A money amount as a case variable: a JSON number with two decimals."""
    return float(value.quantize(Decimal("0.01")))
