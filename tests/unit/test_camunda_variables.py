"""Camunda's typed variables to the engine's JSON values and back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api.camunda.params import format_date, parse_date
from api.camunda.variables import VariableError, from_camunda, to_camunda, typed


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ({"value": "x", "type": "String"}, "x"),
        ({"value": 42, "type": "string"}, "42"),
        ({"value": "7", "type": "Integer"}, 7),
        ({"value": 7.0, "type": "Long"}, 7),
        ({"value": 2**40, "type": "Long"}, 2**40),
        ({"value": -5, "type": "Short"}, -5),
        ({"value": "2.5", "type": "Double"}, 2.5),
        ({"value": "TRUE", "type": "Boolean"}, True),
        ({"value": '{"a": [1]}', "type": "Json"}, {"a": [1]}),
        ({"value": {"a": 1}, "type": "Json"}, {"a": 1}),
        (
            {
                "value": "[1,2]",
                "type": "Object",
                "valueInfo": {"serializationDataFormat": "application/json"},
            },
            [1, 2],
        ),
        ({"value": "2013-01-23T14:42:45.000+0200", "type": "Date"}, "2013-01-23T12:42:45+00:00"),
        ({"value": "ignored", "type": "Null"}, None),
        ({"value": None, "type": "Integer"}, None),
        ({"value": [1, "two"]}, [1, "two"]),
        ({"value": "<a/>", "type": "Xml"}, "<a/>"),
    ],
)
def test_accepted_values(sent: dict[str, Any], kept: Any) -> None:
    assert from_camunda({"v": sent}) == {"v": kept}


@pytest.mark.parametrize(
    "sent",
    [
        {"value": "seven", "type": "Integer"},
        {"value": 2**31, "type": "Integer"},
        {"value": 2**15, "type": "Short"},
        {"value": 2**63, "type": "Long"},
        {"value": True, "type": "Integer"},
        {"value": 1.5, "type": "Long"},
        {"value": "yes", "type": "Boolean"},
        {"value": [1], "type": "String"},
        {"value": "{", "type": "Json"},
        {"value": "<x/>", "type": "Object", "valueInfo": {"serializationDataFormat": "application/xml"}},
        {"value": "01/02/2013", "type": "Date"},
        {"value": "AA==", "type": "Bytes"},
        {"value": "AA==", "type": "File"},
        {"value": 1, "type": "Decimal"},
        {"value": 1, "type": 5},
        {"value": 1, "valueInfo": []},
        "plain",
    ],
)
def test_refused_values_name_the_variable(sent: Any) -> None:
    with pytest.raises(VariableError, match="'v'"):
        from_camunda({"v": sent})


def test_variables_must_be_an_object() -> None:
    assert from_camunda(None) == {}
    with pytest.raises(VariableError):
        from_camunda([{"value": 1}])


def test_values_go_back_with_camunda_types() -> None:
    moment = datetime(2026, 1, 5, 9, 30, 15, 250000, tzinfo=UTC)
    assert to_camunda(
        {"a": 1, "b": 2**40, "c": 1.5, "d": True, "e": None, "f": "x", "g": {"k": [1]}, "h": moment}
    ) == {
        "a": {"type": "Integer", "value": 1, "valueInfo": {}},
        "b": {"type": "Long", "value": 2**40, "valueInfo": {}},
        "c": {"type": "Double", "value": 1.5, "valueInfo": {}},
        "d": {"type": "Boolean", "value": True, "valueInfo": {}},
        "e": {"type": "Null", "value": None, "valueInfo": {}},
        "f": {"type": "String", "value": "x", "valueInfo": {}},
        "g": {"type": "Json", "value": '{"k": [1]}', "valueInfo": {}},
        "h": {"type": "Date", "value": "2026-01-05T09:30:15.250+0000", "valueInfo": {}},
    }
    assert to_camunda({"a": 1, "b": 2}, ["b", "missing"]) == {"b": typed(2)}


def test_camunda_dates() -> None:
    assert format_date(None) is None
    assert (
        format_date(datetime(2013, 1, 23, 13, 42, 42, 657000, tzinfo=UTC)) == "2013-01-23T13:42:42.657+0000"
    )
    for text in ("2013-01-23T15:42:42.657+0200", "2013-01-23T15:42:42.657+02:00", "2013-01-23T13:42:42.657Z"):
        assert parse_date(text, "d") == datetime(2013, 1, 23, 13, 42, 42, 657000, tzinfo=UTC)
    assert parse_date("2013-01-23T13:42:42", "d").tzinfo == UTC
