"""Reading JSON text into values a variable can hold, and measuring how deep a value is."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from engine.json_values import MAX_VARIABLE_DEPTH, UnfitJson, deeper_than, loads


def nested(levels: int) -> Any:
    value: Any = 1
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_depth_counts_lists_and_objects_without_recursion() -> None:
    assert not deeper_than(7, 0) and not deeper_than("text", 0)
    assert deeper_than([], 0) and not deeper_than([], 1)
    assert not deeper_than(nested(MAX_VARIABLE_DEPTH)) and deeper_than(nested(MAX_VARIABLE_DEPTH + 1))
    assert deeper_than(nested(100_000))
    assert deeper_than(((((1,),),),), 3)
    cycle: list[Any] = []
    cycle.append(cycle)
    assert deeper_than(cycle)


def test_loads_keeps_json_values() -> None:
    text = json.dumps(nested(MAX_VARIABLE_DEPTH))
    assert loads(text) == nested(MAX_VARIABLE_DEPTH)
    assert loads(b'{"a": [1.5, -2e10, "NaN"]}') == {"a": [1.5, -2e10, "NaN"]}
    assert loads(b'{"smile": "\\ud83d\\ude00"}') == {"smile": "\U0001f600"}  # a whole pair is one character


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("NaN", "NaN is not a number JSON allows"),
        ('{"a": [-Infinity]}', "-Infinity is not a number JSON allows"),
        ("[1e400]", "1e400 is too large a number"),
        ("[" * 65 + "]" * 65, "the value is nested too deeply (at most 64 levels"),
        ("[" * 100_000 + "]" * 100_000, "the value is nested too deeply"),
        ('{"a": "x\\ud800"}', "the value holds a lone UTF-16 surrogate"),
        ('{"\\udc00": 1}', "the value holds a lone UTF-16 surrogate"),
    ],
)
def test_loads_refuses_what_no_variable_can_hold(text: str, reason: str) -> None:
    for given in (text, text.encode()):
        with pytest.raises(UnfitJson, match=re.escape(reason)):
            loads(given)


def test_text_that_is_not_json_is_a_plain_value_error() -> None:
    for text in ("{oops", b"\xff\xfe"):
        with pytest.raises(ValueError) as raised:
            loads(text)
        assert not isinstance(raised.value, UnfitJson)
    with pytest.raises(UnfitJson, match=re.escape("the body is nested too deeply (at most 3 levels")):
        loads("[[[[]]]]", 3, "the body")
