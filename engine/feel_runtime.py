"""The functions translated FEEL calls at run time: FEEL's null-tolerant values.

FEEL (Camunda 8's expression language, also written by Trisotech and other DMN tools) is
translated at deploy time by ``engine.bpmn.feel``. Where FEEL and EL agree the generated code
calls EL's helpers (``engine.el_runtime``); where FEEL differs it calls these:

* a missing variable, a path into null or into a missing entry, and an operation on values
  it does not apply to give null rather than an error (FEEL 1.17 and Camunda 8.4 onwards);
* ``+`` joins two strings and adds two numbers; nothing is coerced (``"1" + 1`` is null);
* ``and`` / ``or`` / ``not()`` are three-valued (true, false, null);
* lists are indexed from 1, negative indexes count from the end, and a path on a list maps
  over its items (``orders.total`` is the list of the orders' totals);
* a condition holds only when it is ``true``: null and non-booleans take the other branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .el_runtime import to_string


def _number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _numbers(a: Any, b: Any) -> tuple[Any, Any] | None:
    if not (_number(a) and _number(b)):
        return None
    if isinstance(a, Decimal) and isinstance(b, float):
        return a, Decimal(repr(b))
    if isinstance(b, Decimal) and isinstance(a, float):
        return Decimal(repr(a)), b
    return a, b


def feel_add(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    pair = _numbers(a, b)
    return pair[0] + pair[1] if pair else None


def feel_sub(a: Any, b: Any) -> Any:
    pair = _numbers(a, b)
    return pair[0] - pair[1] if pair else None


def feel_mul(a: Any, b: Any) -> Any:
    pair = _numbers(a, b)
    return pair[0] * pair[1] if pair else None


def feel_div(a: Any, b: Any) -> Any:
    pair = _numbers(a, b)
    if pair is None or pair[1] == 0:
        return None
    x, y = pair
    if isinstance(x, Decimal) or isinstance(y, Decimal):
        return Decimal(x) / Decimal(y)
    quotient = x / y
    whole = isinstance(x, int) and isinstance(y, int) and quotient == int(quotient)
    return int(quotient) if whole else quotient


def feel_neg(a: Any) -> Any:
    return -a if _number(a) else None


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    pair = _numbers(a, b)
    if pair is not None:
        return pair
    if type(a) is type(b) and a is not None:
        return a, b
    return None


def feel_eq(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return a is None and b is None
    pair = _comparable(a, b)
    return bool(pair[0] == pair[1]) if pair else False


def feel_ne(a: Any, b: Any) -> Any:
    return not feel_eq(a, b)


def _order(a: Any, b: Any, test: Callable[[Any, Any], bool]) -> Any:
    pair = _comparable(a, b)
    if pair is None:
        return None
    try:
        return bool(test(*pair))
    except TypeError:  # values of one type that have no order (two maps)
        return None


def feel_lt(a: Any, b: Any) -> Any:
    return _order(a, b, lambda x, y: x < y)


def feel_gt(a: Any, b: Any) -> Any:
    return _order(a, b, lambda x, y: x > y)


def feel_le(a: Any, b: Any) -> Any:
    return _order(a, b, lambda x, y: x <= y)


def feel_ge(a: Any, b: Any) -> Any:
    return _order(a, b, lambda x, y: x >= y)


def feel_true(value: Any) -> bool:
    """Whether a condition holds: only ``true`` does."""
    return value is True


def _truth(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def feel_and(*values: Any) -> Any:
    truths = [_truth(v) for v in values]
    if False in truths:
        return False
    return True if all(truths) else None


def feel_or(*values: Any) -> Any:
    truths = [_truth(v) for v in values]
    if True in truths:
        return True
    return False if all(t is False for t in truths) else None


def feel_not(value: Any) -> Any:
    truth = _truth(value)
    return None if truth is None else not truth


def feel_prop(base: Any, key: str) -> Any:
    if isinstance(base, Mapping):
        return base.get(key)
    if isinstance(base, list | tuple):
        return [feel_prop(item, key) for item in base]
    return None


def feel_index(base: Any, index: Any) -> Any:
    if not isinstance(base, list | tuple) or not _number(index) or int(index) != index or index == 0:
        return None
    position = int(index) - 1 if index > 0 else len(base) + int(index)
    return base[position] if 0 <= position < len(base) else None


def _items(value: Any) -> list[Any] | None:
    """A FEEL list: a single value counts as a list of one; null stays null."""
    if value is None:
        return None
    return list(value) if isinstance(value, list | tuple) else [value]


def feel_some(collection: Any, holds: Callable[[Any], Any]) -> Any:
    items = _items(collection)
    return None if items is None else any(holds(item) is True for item in items)


def feel_every(collection: Any, holds: Callable[[Any], Any]) -> Any:
    items = _items(collection)
    return None if items is None else all(holds(item) is True for item in items)


# -- built-in functions -------------------------------------------------------------------


def feel_string(value: Any) -> Any:
    return None if value is None else to_string(value)


def feel_count(value: Any) -> Any:
    items = _items(value)
    return None if items is None else len(items)


def feel_string_join(value: Any, separator: Any = "") -> Any:
    items = _items(value)
    if items is None or not isinstance(separator, str):
        return None
    if not all(isinstance(item, str) or item is None for item in items):
        return None
    return separator.join(item for item in items if item is not None)


def _text(function: Callable[..., Any]) -> Callable[..., Any]:
    """A string function: null (or a non-string) in, null out."""

    def apply(value: Any, *args: Any) -> Any:
        if not isinstance(value, str) or any(not isinstance(a, str) for a in args):
            return None
        return function(value, *args)

    return apply


def _numeric(function: Callable[[list[Any]], Any]) -> Callable[..., Any]:
    """A list function over numbers (``sum([1, 2])`` or ``sum(1, 2)``): null unless all are numbers."""

    def apply(*args: Any) -> Any:
        items = _items(args[0]) if len(args) == 1 else list(args)
        if not items or not all(_number(item) for item in items):
            return None
        return function(items)

    return apply


def feel_list_contains(value: Any, item: Any) -> Any:
    items = _items(value)
    return None if items is None else any(feel_eq(x, item) is True for x in items)


def feel_is_empty(value: Any) -> Any:
    items = _items(value)
    return None if items is None else len(items) == 0


def feel_number(value: Any) -> Any:
    if _number(value):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    return None


# FEEL name -> (helper, accepted argument counts). Names with spaces are single FEEL names.
FEEL_BUILTINS: Mapping[str, tuple[str, frozenset[int]]] = {
    "string": ("feel_string", frozenset({1})),
    "number": ("feel_number", frozenset({1})),
    "count": ("feel_count", frozenset({1})),
    "string join": ("feel_string_join", frozenset({1, 2})),
    "upper case": ("feel_upper_case", frozenset({1})),
    "lower case": ("feel_lower_case", frozenset({1})),
    "contains": ("feel_contains", frozenset({2})),
    "starts with": ("feel_starts_with", frozenset({2})),
    "ends with": ("feel_ends_with", frozenset({2})),
    "string length": ("feel_string_length", frozenset({1})),
    "list contains": ("feel_list_contains", frozenset({2})),
    "is empty": ("feel_is_empty", frozenset({1})),
    "sum": ("feel_sum", frozenset(range(1, 100))),
    "min": ("feel_min", frozenset(range(1, 100))),
    "max": ("feel_max", frozenset(range(1, 100))),
    "now": ("el_now", frozenset({0})),
}

FEEL_HELPERS: dict[str, Callable[..., Any]] = {
    "feel_add": feel_add,
    "feel_sub": feel_sub,
    "feel_mul": feel_mul,
    "feel_div": feel_div,
    "feel_neg": feel_neg,
    "feel_eq": feel_eq,
    "feel_ne": feel_ne,
    "feel_lt": feel_lt,
    "feel_gt": feel_gt,
    "feel_le": feel_le,
    "feel_ge": feel_ge,
    "feel_true": feel_true,
    "feel_and": feel_and,
    "feel_or": feel_or,
    "feel_not": feel_not,
    "feel_prop": feel_prop,
    "feel_index": feel_index,
    "feel_some": feel_some,
    "feel_every": feel_every,
    "feel_string": feel_string,
    "feel_number": feel_number,
    "feel_count": feel_count,
    "feel_string_join": feel_string_join,
    "feel_upper_case": _text(str.upper),
    "feel_lower_case": _text(str.lower),
    "feel_contains": _text(lambda s, part: part in s),
    "feel_starts_with": _text(str.startswith),
    "feel_ends_with": _text(str.endswith),
    "feel_string_length": _text(len),
    "feel_list_contains": feel_list_contains,
    "feel_is_empty": feel_is_empty,
    "feel_sum": _numeric(sum),
    "feel_min": _numeric(min),
    "feel_max": _numeric(max),
}
