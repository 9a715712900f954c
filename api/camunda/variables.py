"""Process variables in Camunda's typed form, both ways.

Camunda sends and expects ``{"name": {"value": …, "type": "String", "valueInfo": {}}}``.
The engine keeps plain JSON values, so each Camunda type is converted to the JSON value it
stands for (checked as Camunda checks it: an Integer must be a whole number that fits 32
bits) and back. ``Json`` and ``Object`` (serialized as application/json) values become JSON
objects and arrays, read as strictly as every JSON value (engine/json_values.py: no NaN or
Infinity, no deeper nesting than a variable may have); ``Date`` values are kept as ISO 8601
text. Binary values (``Bytes``, ``File``) are refused: the engine stores no files in process
data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine import json_values
from engine.errors import ValidationError

from .params import format_date, parse_date

INT_RANGE = (-(2**31), 2**31 - 1)
SHORT_RANGE = (-(2**15), 2**15 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
JAVA_TYPES = {
    "Integer": "java.lang.Integer",
    "Short": "java.lang.Short",
    "Long": "java.lang.Long",
    "Double": "java.lang.Double",
    "Boolean": "java.lang.Boolean",
    "String": "java.lang.String",
}


class VariableError(ValidationError):
    pass


def _cannot(name: str, value: Any, kind: str, why: str = "") -> VariableError:
    java = JAVA_TYPES.get(kind, kind)
    text = f"Cannot convert value '{value}' of type '{kind}' to java type {java}"
    return VariableError(f"Invalid variable '{name}': {text}" + (f" ({why})" if why else ""))


def _whole(name: str, value: Any, kind: str, bounds: tuple[int, int]) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise _cannot(name, value, kind)
    if not bounds[0] <= number <= bounds[1]:
        raise _cannot(name, value, kind, "out of range")
    return number


def _double(name: str, value: Any) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    # NaN and infinity have no JSON form: the value could not be stored or handed back.
    if number is None or not math.isfinite(number):
        raise _cannot(name, value, "Double")
    return number


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _cannot(name, value, "Boolean")


def _string(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _cannot(name, value, "String")


def _json(name: str, value: Any, kind: str, info: Mapping[str, Any]) -> Any:
    if kind == "Object":
        fmt = info.get("serializationDataFormat")
        if fmt not in (None, "application/json"):
            raise VariableError(
                f"Invalid variable '{name}': Object values must be serialized as "
                f"application/json, not {fmt!r}"
            )
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str):
        raise VariableError(f"Invalid variable '{name}': a {kind} value must be JSON text")
    try:
        return json_values.loads(value, what=f"its {kind} value")
    except json_values.UnfitJson as exc:
        raise VariableError(f"Invalid variable '{name}': {exc}") from None
    except ValueError as exc:
        raise VariableError(
            f"Invalid variable '{name}': its {kind} value is not valid JSON ({exc})"
        ) from None


def _date(name: str, value: Any) -> str:
    try:
        return parse_date(value, name).isoformat()
    except ValidationError:
        raise _cannot(name, value, "Date", "use yyyy-MM-dd'T'HH:mm:ss.SSSZ") from None


_CONVERTERS: dict[str, Callable[[str, Any, Mapping[str, Any]], Any]] = {
    "String": lambda n, v, i: _string(n, v),
    "Xml": lambda n, v, i: _string(n, v),
    "Boolean": lambda n, v, i: _boolean(n, v),
    "Integer": lambda n, v, i: _whole(n, v, "Integer", INT_RANGE),
    "Short": lambda n, v, i: _whole(n, v, "Short", SHORT_RANGE),
    "Long": lambda n, v, i: _whole(n, v, "Long", LONG_RANGE),
    "Double": lambda n, v, i: _double(n, v),
    "Date": lambda n, v, i: _date(n, v),
    "Json": lambda n, v, i: _json(n, v, "Json", i),
    "Object": lambda n, v, i: _json(n, v, "Object", i),
}
_BY_LOWER = {name.lower(): name for name in (*_CONVERTERS, "Null", "Bytes", "File")}


def from_camunda(variables: Any, what: str = "variables") -> dict[str, Any]:
    """Camunda-typed variables → plain values; a 400 naming the variable for anything unacceptable."""
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise VariableError(f"'{what}' must be a JSON object of variables, not {type(variables).__name__}")
    return {name: _value(name, typed) for name, typed in variables.items()}


def _value(name: str, typed: Any) -> Any:
    if not isinstance(typed, Mapping):
        raise VariableError(f'Invalid variable \'{name}\': give it as {{"value": …, "type": …}}')
    value = typed.get("value")
    info = typed.get("valueInfo")
    info = {} if info is None else info
    if not isinstance(info, Mapping):
        raise VariableError(f"Invalid variable '{name}': valueInfo must be a JSON object")
    raw_type = typed.get("type")
    if raw_type is None:
        return value  # untyped: the JSON value as sent, as Camunda infers a type from it
    if not isinstance(raw_type, str) or raw_type.lower() not in _BY_LOWER:
        raise VariableError(f"Invalid variable '{name}': unsupported value type '{raw_type}'")
    kind = _BY_LOWER[raw_type.lower()]
    if kind in ("Bytes", "File"):
        raise VariableError(f"Invalid variable '{name}': {kind} variables are not supported by this engine")
    if kind == "Null" or value is None:
        return None
    return _CONVERTERS[kind](name, value, info)


def to_camunda(values: Mapping[str, Any], names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Plain values → Camunda-typed variables (all of them, or just ``names``)."""
    chosen = values if names is None else {n: values[n] for n in names if n in values}
    return {name: typed(value) for name, value in chosen.items()}


def typed(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        kind = "Integer" if INT_RANGE[0] <= value <= INT_RANGE[1] else "Long"
        return {"type": kind, "value": value, "valueInfo": {}}
    if isinstance(value, (float, Decimal)):
        return {"type": "Double", "value": float(value), "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    if isinstance(value, datetime):
        return {"type": "Date", "value": format_date(value), "valueInfo": {}}
    if isinstance(value, date):
        return {"type": "String", "value": value.isoformat(), "valueInfo": {}}
    if isinstance(value, (dict, list, tuple)):
        return {"type": "Json", "value": json.dumps(value, default=str), "valueInfo": {}}
    return {"type": "String", "value": str(value), "valueInfo": {}}
