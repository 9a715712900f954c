"""The functions translated expressions call at run time: EL's coercions and operators.

Translated EL (``engine.expressions``), FEEL and XPath (``engine.bpmn.feel``) only call the
``el_*`` helpers gathered in ``EL_HELPERS`` and FEEL's (``engine.feel_runtime``); the engine
adds them to the sandbox globals. The semantics Python does not share (number coercion of
strings, null-safe property access, Java string methods, Java-style ``%``) live here, so
the generated text stays short and passes ``engine.sandbox.check_source``.

How variables are found: the generated code never names a task variable as a Python name
(EL identifiers may be Python keywords or start with an underscore, FEEL names may hold
spaces, all of which would break or be refused). ``x`` becomes ``el_var('x', '${x}')`` and
``execution.getVariable('x')`` becomes ``el_get_var('x')``. These helpers read the
namespace the expression is being evaluated in (the calling frame's locals, then globals),
which is the task data merged with the engine globals, so no extra context has to be
wired in: ``eval(code, {**EL_FUNCTIONS, **task_data})`` (``engine.expressions``) is all it
takes. Entries that are not data (``__builtins__``, functions, classes, modules) never
count as variables. A mapping target that is not a Python name is written the same way,
into the namespace of the script being run (``el_set``).

Deliberate differences from JUEL, where its behaviour hides modelling mistakes:
arithmetic on null fails with a clear message instead of treating null as 0, and division
or modulo by zero fails instead of yielding Infinity/NaN.
"""

from __future__ import annotations

import calendar
import json
import math
import re
import sys
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.errors import EngineError


class ExpressionFailed(EngineError):
    """An expression could not be evaluated over the task data (run time)."""

    status = 422
    title = "Expression failed"


Number = int | float | Decimal

INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def type_name(value: Any) -> str:
    """EL-flavoured type names for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, datetime):
        return "date"
    return type(value).__name__


def _is_variable(name: str, value: Any) -> bool:
    if name.startswith("__"):
        return False
    # Helpers, classes and modules are what the engine put beside the data, never data.
    return not (callable(value) or isinstance(value, types.ModuleType | type))


def _caller_scopes() -> tuple[Mapping[str, Any], ...]:
    """The namespaces of the code that called an ``el_`` helper (see module docstring)."""
    frame = sys._getframe(2)  # 0: this function, 1: the helper, 2: the evaluated expression
    try:
        return frame.f_locals, frame.f_globals
    finally:
        del frame  # break the reference cycle frame -> locals -> frame


_MISSING = object()


def _lookup(scopes: tuple[Mapping[str, Any], ...], name: str) -> Any:
    for scope in scopes:
        if name in scope and _is_variable(name, scope[name]):
            return scope[name]
    return _MISSING


class UnknownVariable(ExpressionFailed):
    """The expression names a variable the case does not have."""


def el_var(name: str, source: str = "") -> Any:
    """A variable named in the expression; unknown ones fail as they do in Camunda."""
    value = _lookup(_caller_scopes(), name)
    if value is _MISSING:
        raise UnknownVariable(
            f"Unknown property used in expression: {source}. Cause: Cannot resolve identifier '{name}'"
        )
    return value


def el_unless_unknown(condition: Callable[[], Any]) -> Any:
    """A conditional event's condition: false while a variable it names does not exist yet.

    Camunda evaluates these conditions as variables appear ("tryEvaluate"): a condition on a
    variable the case has not set yet is simply not met, where a gateway's would fail.
    """
    try:
        return condition()
    except UnknownVariable:
        return False


def el_set(path: Any, value: Any) -> None:
    """Assign ``value`` to a variable whose name is not a Python name, in the running script's data.

    ``path`` is the variable's name, or a tuple of names: the variable, then keys of nested
    maps, created as needed (Camunda 8 writes ``target="from.email"``).
    """
    names = (path,) if isinstance(path, str) else tuple(path)
    if not names or any(not isinstance(n, str) or not n or n.startswith("_") for n in names):
        raise ExpressionFailed(f"{path!r} cannot be a variable name")
    frame = sys._getframe(1)
    try:
        scope = frame.f_globals  # a script's globals are the task data it runs over
    finally:
        del frame
    target: Any = scope
    for name in names[:-1]:
        found = target.get(name)
        if not isinstance(found, dict):
            found = {}
            target[name] = found
        target = found
    target[names[-1]] = value


def el_get_var(name: Any) -> Any:
    """execution.getVariable(name): null when the variable does not exist."""
    value = _lookup(_caller_scopes(), to_string(name))
    return None if value is _MISSING else value


def el_has_var(name: Any) -> bool:
    return _lookup(_caller_scopes(), to_string(name)) is not _MISSING


def el_variables() -> dict[str, Any]:
    """execution.getVariables(): every variable of the task data."""
    found: dict[str, Any] = {}
    for scope in reversed(_caller_scopes()):  # locals last, so they win as in name lookup
        found.update((k, v) for k, v in scope.items() if _is_variable(k, v))
    return found


def el_now() -> datetime:
    """Camunda's now() / dateTime(): the current time, in UTC."""
    return datetime.now(UTC)


# -- coercions --------------------------------------------------------------------------


def _java_text(value: Any) -> str:
    """Java's toString() for values nested in lists and maps, where null prints as "null"."""
    return "null" if value is None else to_string(value)


def _double_text(value: float) -> str:
    """Java's Double.toString: 1.0, 1.0E7, 1.0E-4."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)  # finite values have an integer exponent
    text = "".join(str(d) for d in digits).rstrip("0") or "0"
    mantissa = f"{text[0]}.{text[1:] or '0'}"
    return f"{'-' if sign else ''}{mantissa}E{exponent + len(digits) - 1}"


def to_string(value: Any) -> str:
    """EL coercion to String (null becomes the empty string)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _double_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_java_text(k)}={_java_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _parse_number(text: str) -> Number:
    if text == "":
        return 0  # EL coerces "" to 0
    if INTEGER_TEXT.fullmatch(text):
        return int(text)
    if DECIMAL_TEXT.fullmatch(text):
        return float(text)
    raise ExpressionFailed(f"Cannot coerce '{text}' to a number")


def to_number(value: Any, op: str) -> Number:
    """EL coercion to a number for operator ``op``; null is an error (see module docstring)."""
    if value is None:
        raise ExpressionFailed(f"Cannot apply '{op}' to null (a variable in the expression has no value)")
    if isinstance(value, bool):
        raise ExpressionFailed(f"Cannot coerce boolean '{to_string(value)}' to a number for '{op}'")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        return _parse_number(value)
    raise ExpressionFailed(f"Cannot coerce {type_name(value)} to a number for '{op}'")


def _same_kind(a: Number, b: Number) -> tuple[Number, Number]:
    """Decimal wins over float (EL's BigDecimal rule); Python cannot mix the two."""
    if isinstance(a, Decimal) and isinstance(b, float):
        return a, Decimal(repr(b))
    if isinstance(b, Decimal) and isinstance(a, float):
        return Decimal(repr(a)), b
    return a, b


def _operands(a: Any, b: Any, op: str) -> tuple[Number, Number]:
    return _same_kind(to_number(a, op), to_number(b, op))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def el_bool(value: Any) -> bool:
    """EL coercion to Boolean: null and "" are false, strings are "true" case-insensitively."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        return value.lower() == "true"
    raise ExpressionFailed(f"Cannot coerce {type_name(value)} '{to_string(value)}' to a boolean")


def el_str(value: Any) -> str:
    return to_string(value)


def el_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str | list | tuple | set | frozenset | Mapping):
        return len(value) == 0
    return False


# -- arithmetic -------------------------------------------------------------------------


def el_add(a: Any, b: Any) -> Number:
    x, y = _operands(a, b, "+")
    return x + y  # type: ignore[operator]  # _same_kind never pairs Decimal with float


def el_sub(a: Any, b: Any) -> Number:
    x, y = _operands(a, b, "-")
    return x - y  # type: ignore[operator]


def el_mul(a: Any, b: Any) -> Number:
    x, y = _operands(a, b, "*")
    return x * y  # type: ignore[operator]


def el_div(a: Any, b: Any) -> Number:
    """EL '/' and 'div': decimal division, else always floating point."""
    x, y = _operands(a, b, "/")
    if y == 0:
        raise ExpressionFailed("Division by zero")
    if isinstance(x, Decimal) or isinstance(y, Decimal):
        return Decimal(x) / Decimal(y)
    return float(x) / float(y)


def el_mod(a: Any, b: Any) -> Number:
    """EL '%' and 'mod' follow Java: the result takes the sign of the dividend."""
    x, y = _operands(a, b, "%")
    if y == 0:
        raise ExpressionFailed("Modulo by zero")
    if isinstance(x, int) and isinstance(y, int):
        remainder = abs(x) % abs(y)
        return -remainder if x < 0 else remainder
    return math.fmod(float(x), float(y))


def el_neg(a: Any) -> Number:
    return -to_number(a, "-")


# -- comparison -------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return "number" if _is_number(value) else type_name(value)


def java_equals(a: Any, b: Any) -> bool:
    """Object.equals: no coercion, values of different kinds are never equal."""
    return _kind(a) == _kind(b) and bool(a == b)


def el_eq(a: Any, b: Any) -> bool:
    """EL '==': numbers, then booleans, then strings are coerced; otherwise equals()."""
    if a is None or b is None:
        return a is b
    if _is_number(a) or _is_number(b):
        x, y = _operands(a, b, "==")
        return x == y
    if isinstance(a, bool) or isinstance(b, bool):
        return el_bool(a) == el_bool(b)
    if isinstance(a, str) or isinstance(b, str):
        return to_string(a) == to_string(b)
    return bool(a == b)


def el_ne(a: Any, b: Any) -> bool:
    return not el_eq(a, b)


def _order(a: Any, b: Any, op: str) -> int | None:
    """-1, 0 or 1 as EL orders a and b; None when either is null (comparisons are false)."""
    if a is None or b is None:
        return 0 if a is b else None
    x: Any
    y: Any
    if _is_number(a) or _is_number(b):
        x, y = _operands(a, b, op)
    elif isinstance(a, str) or isinstance(b, str):
        x, y = to_string(a), to_string(b)
    else:
        x, y = a, b
    try:
        return -1 if x < y else (1 if x > y else 0)
    except TypeError:
        raise ExpressionFailed(f"Cannot compare {type_name(a)} with {type_name(b)} using '{op}'") from None


def el_lt(a: Any, b: Any) -> bool:
    order = _order(a, b, "<")
    return order is not None and order < 0


def el_gt(a: Any, b: Any) -> bool:
    order = _order(a, b, ">")
    return order is not None and order > 0


def el_le(a: Any, b: Any) -> bool:
    order = _order(a, b, "<=")
    return order is not None and order <= 0


def el_ge(a: Any, b: Any) -> bool:
    order = _order(a, b, ">=")
    return order is not None and order >= 0


# -- properties and methods -------------------------------------------------------------


def _to_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or value is None:
        raise ExpressionFailed(f"Cannot use {type_name(value)} as {what}")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        return int(value)
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    raise ExpressionFailed(f"Cannot use {type_name(value)} '{to_string(value)}' as {what}")


def el_prop(base: Any, key: Any) -> Any:
    """``a.b`` and ``a[b]``: map key or list index; null and missing entries give null."""
    if base is None or key is None:
        return None
    if isinstance(base, Mapping):
        try:
            return base.get(key)
        except TypeError:  # unhashable key
            raise ExpressionFailed(f"Cannot use {type_name(key)} as a map key") from None
    if isinstance(base, list | tuple):
        index = _to_int(key, "a list index")
        return base[index] if 0 <= index < len(base) else None
    raise ExpressionFailed(f"Property '{to_string(key)}' not found on {type_name(base)}")


def _substring(text: str, begin: Any, end: Any = None) -> str:
    start = _to_int(begin, "a substring index")
    stop = len(text) if end is None else _to_int(end, "a substring index")
    if start < 0 or stop > len(text) or start > stop:
        raise ExpressionFailed(
            f"substring({start}, {stop}) is out of range for a string of length {len(text)}"
        )
    return text[start:stop]


def _matches(text: str, pattern: Any) -> bool:
    try:
        return re.fullmatch(to_string(pattern), text) is not None
    except re.error as err:
        raise ExpressionFailed(f"Invalid regular expression {to_string(pattern)!r}: {err}") from None


def _index_of(text: str, part: Any, start: Any = 0) -> int:
    return text.find(to_string(part), max(_to_int(start, "a string index"), 0))


def _list_get(items: list[Any] | tuple[Any, ...], index: Any) -> Any:
    position = _to_int(index, "a list index")
    if not 0 <= position < len(items):
        raise ExpressionFailed(f"Index {position} is out of range for a list of size {len(items)}")
    return items[position]


# Java's String.trim() removes every character up to and including the space.
JAVA_WHITESPACE = "".join(chr(code) for code in range(33))

STRING_METHODS: Mapping[str, Callable[..., Any]] = {
    "length": len,
    "startsWith": lambda s, x: s.startswith(to_string(x)),
    "endsWith": lambda s, x: s.endswith(to_string(x)),
    "contains": lambda s, x: to_string(x) in s,
    "toUpperCase": str.upper,
    "toLowerCase": str.lower,
    "trim": lambda s: s.strip(JAVA_WHITESPACE),
    "isEmpty": lambda s: s == "",
    "equalsIgnoreCase": lambda s, x: x is not None and s.lower() == to_string(x).lower(),
    "substring": _substring,
    "indexOf": _index_of,
    "replace": lambda s, a, b: s.replace(to_string(a), to_string(b)),
    "matches": _matches,
}

LIST_METHODS: Mapping[str, Callable[..., Any]] = {
    "size": len,
    "isEmpty": lambda items: len(items) == 0,
    "contains": lambda items, x: any(java_equals(item, x) for item in items),
    "get": _list_get,
}


def _map_get(mapping: Mapping[Any, Any], key: Any) -> Any:
    try:
        return mapping.get(key)
    except TypeError:
        return None  # an unhashable key cannot be in the map


def _map_has(mapping: Mapping[Any, Any], key: Any) -> bool:
    try:
        return key in mapping
    except TypeError:
        return False


MAP_METHODS: Mapping[str, Callable[..., Any]] = {
    "size": len,
    "isEmpty": lambda mapping: len(mapping) == 0,
    "get": _map_get,
    "containsKey": lambda mapping, key: _map_has(mapping, key),
}


def _add_months(moment: datetime, months: int) -> datetime:
    """Joda's plusMonths: the day is clamped to the last day of the target month."""
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _shift(unit: str, sign: int) -> Callable[[datetime, Any], datetime]:
    def shift(moment: datetime, amount: Any) -> datetime:
        count = sign * _to_int(amount, f"a number of {unit.lower()}")
        if unit == "Months":
            return _add_months(moment, count)
        if unit == "Years":
            return _add_months(moment, 12 * count)
        return moment + timedelta(**{unit.lower(): count})

    return shift


def _moment(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ExpressionFailed(f"Expected a date but got {type_name(value)}")
    return value


DATE_METHODS: Mapping[str, Callable[..., Any]] = {
    "toDate": lambda moment: moment,
    "isBefore": lambda moment, other: moment < _moment(other),
    "isAfter": lambda moment, other: moment > _moment(other),
    **{f"{prefix}{unit}": _shift(unit, sign) for prefix, sign in (("plus", 1), ("minus", -1))
       for unit in ("Seconds", "Minutes", "Hours", "Days", "Weeks", "Months", "Years")},
}  # fmt: skip


# -- Camunda Spin's JSON API -----------------------------------------------------------
# Camunda keeps JSON variables as Spin nodes (``S(json)``, ``customer.prop("age").numberValue()``).
# Here JSON variables are plain dicts, lists and values, and these methods read them the way
# Spin reads its nodes, failing where Spin fails (a missing property, a value of another type).


def el_spin(value: Any, data_format: Any = "application/json") -> Any:
    """``S(value)`` / ``JSON(value)``: a JSON text is parsed; data already parsed is itself."""
    if to_string(data_format) not in ("application/json", "json"):
        raise ExpressionFailed(f"Spin data format {to_string(data_format)!r} is not supported (only JSON)")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ExpressionFailed(f"S(...) was given text that is not JSON: {exc}") from None
    return value


def _spin_prop(node: Any, name: Any) -> Any:
    key = to_string(name)
    if not isinstance(node, Mapping):
        raise ExpressionFailed(f"prop({key!r}) needs a JSON object, not {type_name(node)}")
    if key not in node:
        raise ExpressionFailed(f"Unable to find property {key!r} in the JSON object")
    return node[key]


def _spin_typed(kind: str, check: Callable[[Any], bool]) -> Callable[[Any], Any]:
    def read(node: Any) -> Any:
        if not check(node):
            raise ExpressionFailed(f"Expected a JSON {kind} but found {type_name(node)} {to_string(node)!r}")
        return node

    return read


def _spin_elements(node: Any) -> list[Any]:
    if not isinstance(node, list | tuple):
        raise ExpressionFailed(f"elements() needs a JSON array, not {type_name(node)}")
    return list(node)


SPIN_METHODS: Mapping[str, Callable[..., Any]] = {
    "prop": _spin_prop,
    "hasProp": lambda node, name: isinstance(node, Mapping) and to_string(name) in node,
    "stringValue": _spin_typed("string", lambda v: isinstance(v, str)),
    "numberValue": _spin_typed("number", _is_number),
    "boolValue": _spin_typed("boolean", lambda v: isinstance(v, bool)),
    "value": lambda node: node,
    "elements": _spin_elements,
    "fieldNames": lambda node: list(node) if isinstance(node, Mapping) else [],
    "isNull": lambda node: node is None,
    "isString": lambda node: isinstance(node, str),
    "isNumber": _is_number,
    "isBoolean": lambda node: isinstance(node, bool),
    "isArray": lambda node: isinstance(node, list | tuple),
    "isObject": lambda node: isinstance(node, Mapping),
}


def _methods_of(base: Any) -> Mapping[str, Callable[..., Any]]:
    if isinstance(base, str):
        return STRING_METHODS
    if isinstance(base, list | tuple):
        return LIST_METHODS
    if isinstance(base, Mapping):
        return MAP_METHODS
    if isinstance(base, datetime):
        return DATE_METHODS
    return {}


def el_call(base: Any, name: str, *args: Any) -> Any:
    """A method call ``base.name(args)``, dispatched on the run-time type like Java would."""
    if base is None:
        raise ExpressionFailed(f"Cannot call {name}() on null (a variable in the expression has no value)")
    if name == "equals":
        return java_equals(base, args[0])
    if name == "toString":
        return to_string(base)
    method = SPIN_METHODS.get(name) or _methods_of(base).get(name)
    if method is None:
        raise ExpressionFailed(f"Method {name}() not found on {type_name(base)}")
    return method(base, *args)


EL_HELPERS: dict[str, Callable[..., Any]] = {
    "el_var": el_var,
    "el_get_var": el_get_var,
    "el_has_var": el_has_var,
    "el_variables": el_variables,
    "el_now": el_now,
    "el_bool": el_bool,
    "el_str": el_str,
    "el_empty": el_empty,
    "el_add": el_add,
    "el_sub": el_sub,
    "el_mul": el_mul,
    "el_div": el_div,
    "el_mod": el_mod,
    "el_neg": el_neg,
    "el_eq": el_eq,
    "el_ne": el_ne,
    "el_lt": el_lt,
    "el_gt": el_gt,
    "el_le": el_le,
    "el_ge": el_ge,
    "el_prop": el_prop,
    "el_call": el_call,
    "el_spin": el_spin,
    "el_set": el_set,
    "el_unless_unknown": el_unless_unknown,
}
