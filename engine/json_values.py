"""JSON values a process variable can hold, and reading JSON text strictly into them.

The engine copies, compares and serializes variables recursively (SpiffWorkflow's deepcopy,
json.dumps, the checks for NUL characters), so a value nested some hundreds of levels deep
fails there with a RecursionError: a 500 instead of a refusal. JSON text that Python reads
but JSON does not have (NaN, Infinity, a number beyond a float) would be stored and then
break comparisons and exports. Every way in (the engine's own check of a command's
variables, the REST and Camunda bodies, Camunda's Json values, the command line and the
start page) refuses both with the reasons given here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

# Deeper than any real variable, and far from where the recursive copies and dumps fail.
MAX_VARIABLE_DEPTH = 64
# A request body holds variables a few levels down ({"variables": {"x": {"value": …}}}).
MAX_BODY_DEPTH = MAX_VARIABLE_DEPTH + 8


class UnfitJson(ValueError):
    """JSON text that parses (or nearly: nesting too deep for the parser) but that no variable can hold."""


def too_deep_message(what: str, limit: int = MAX_VARIABLE_DEPTH) -> str:
    return f"{what} is nested too deeply (at most {limit} levels of lists and objects)"


def deeper_than(value: Any, limit: int = MAX_VARIABLE_DEPTH) -> bool:
    """Whether ``value`` has more than ``limit`` levels of lists and objects.

    Counted without recursion, and stopping at the first path past the limit (so a value that
    contains itself is simply too deep).
    """
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if level > limit:
            return True
        pending.extend((child, level + 1) for child in children)
    return False


# JSON may escape half of a UTF-16 pair (\\ud800): Python reads it as a lone surrogate, which
# no UTF-8 store takes (the history hash fails on it). Pairs decode to one character and pass.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def encodable(value: Any) -> bool:
    """Whether every text in ``value`` (keys too) can be stored as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_message(what: str) -> str:
    return f"{what} holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid text"


def _refuse_constant(name: str) -> Any:
    raise UnfitJson(f"{name} is not a number JSON allows; quote it (\"{name}\") to pass it as text")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise UnfitJson(f"{text} is too large a number")
    return number


def loads(text: str | bytes, max_depth: int = MAX_VARIABLE_DEPTH, what: str = "the value") -> Any:
    """JSON text as a value a variable can hold.

    UnfitJson (a ValueError), with a message for people, for NaN or Infinity, a number beyond
    a float, nesting deeper than ``max_depth``, or a lone surrogate in a text; any other
    ValueError (json.JSONDecodeError, UnicodeDecodeError) if the text is not JSON at all.
    """
    # Bytes are decoded strictly (json.loads would let encoded surrogates through); text handed
    # over as str (the command line's) may hold raw surrogates, so it is always checked whole.
    may_hold_surrogates = isinstance(text, str)
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text))
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise UnfitJson(too_deep_message(what, max_depth)) from None
    if deeper_than(value, max_depth):
        raise UnfitJson(too_deep_message(what, max_depth))
    if (may_hold_surrogates or _SURROGATE_ESCAPE.search(text)) and not encodable(value):
        raise UnfitJson(lone_surrogate_message(what))
    return value
