"""Conditions in EL, FEEL, XPath and Python: translated at deploy, evaluated as Camunda does, or refused."""

from __future__ import annotations

from typing import Any

import pytest

from engine.bpmn.conditions import FEEL, XPATH, condition_code, expression_code, language_of, translate_subset
from engine.expressions import EL_FUNCTIONS, ExpressionFailed, ExpressionRefused
from engine.sandbox import SAFE_BUILTINS, check_source

XPATH_LANGUAGE = "http://www.w3.org/1999/XPath"
FEEL_LANGUAGE = "https://www.omg.org/spec/DMN/20191111/FEEL/"


def evaluate(code: str, **data: Any) -> Any:
    check_source(code, mode="eval")
    return eval(code, {**EL_FUNCTIONS, **data, "__builtins__": dict(SAFE_BUILTINS)})


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("${amount > 1000}", None, "el"),
        ("#{approved}", XPATH_LANGUAGE, "el"),  # tools write XPath on plain EL
        ("= approved", None, "feel"),
        ("x = 1", FEEL_LANGUAGE, "feel"),
        ("bpmn:getDataObject('a')", None, "xpath"),
        ("true", XPATH_LANGUAGE, "xpath"),
        ("amount > 10", None, "python"),
        ("amount > 10", "python", "python"),
    ],
)
def test_language_is_read_from_attribute_and_shape(text: str, language: str | None, expected: str) -> None:
    assert language_of(language, text) == expected


@pytest.mark.parametrize(
    ("text", "language", "data", "expected"),
    [
        ("${amount > 1000}", None, {"amount": 1500}, True),
        ("${amount gt 1000 && !rejected}", None, {"amount": 1500, "rejected": True}, False),
        ("#{status == 'open'}", None, {"status": "open"}, True),
        ("=fraud", None, {"fraud": False}, False),
        ("= not(approved)", None, {"approved": False}, True),
        ('= some r in risks satisfies r = "red"', None, {"risks": ["green", "red"]}, True),
        ('= every r in risks satisfies r = "red"', None, {"risks": ["green", "red"]}, False),
        ('= amount * 2 >= 10 and name != "x"', None, {"amount": 5, "name": "y"}, True),
        ('Vacation = "Approved"', FEEL_LANGUAGE, {"Vacation": "Approved"}, True),
        ('status = "done"', None, {"status": "done"}, True),  # untagged FEEL (Trisotech)
        ("customer.tier = 'A'", FEEL_LANGUAGE, {"customer": {"tier": "A"}}, True),
        ("bpmn:getDataObject('approved')", None, {"approved": True}, True),
        ("not(bpmn:getDataObject('approved'))", XPATH_LANGUAGE, {"approved": True}, False),
        ("bpmn:getDataObject('clarified') = 'yes'", None, {"clarified": "yes"}, True),
        ("true()", XPATH_LANGUAGE, {}, True),
        ("amount > 10", None, {"amount": 11}, True),
        ('Vacation Approval = "Approved"', FEEL_LANGUAGE, {"Vacation Approval": "Approved"}, True),
        ("Service Level == 'Premium'", None, {"Service Level": "Premium"}, True),  # Trisotech, untagged
        ("= if a then b else c", None, {"a": True, "b": True, "c": False}, True),
        ("= if a then b else c", None, {"b": True, "c": False}, False),  # null takes the else branch
        ("= approved", None, {}, False),  # a missing variable is null in FEEL
        ("= items[1] = 5", None, {"items": [5, 6]}, True),
        ("= items[-1] = 6", None, {"items": [5, 6]}, True),
        ('= some r in risks satisfies r = "red"', None, {"risks": None}, False),
        ("= not(x) and y", None, {"x": False, "y": True}, True),
        ("= x or y", None, {"x": None, "y": True}, True),
    ],
)
def test_conditions_evaluate_as_their_language_means(
    text: str, language: str | None, data: dict[str, Any], expected: bool
) -> None:
    assert evaluate(condition_code(text, language), **data) is expected


@pytest.mark.parametrize(
    ("text", "language", "reason"),
    [
        ("= for x in l return x", None, "FEEL 'for' loops are not supported"),
        ("= items[price > 3]", None, "FEEL filters"),
        ("= x between 1 and 3", None, "FEEL ranges are not supported"),
        ("= function(a) a", None, "FEEL function definitions are not supported"),
        ("= {a 1}", None, "expected ':'"),
        ("= if a then b", None, "expected 'else'"),
        ('= matches(x, "a")', None, "function matches() is not supported"),
        ("= _secret", None, "underscore"),
        ("= some _x in l satisfies _x", None, "cannot be used as a variable name"),
        ("bpmn:getDataObject(x)", None, "takes the data object's name as a string"),
        ("/order/amount > 3", XPATH_LANGUAGE, "unexpected '/'"),
        ("bpmn:getDataObject('a') == 3", XPATH_LANGUAGE, "not an XPath operator"),
        ("order > 3", XPATH_LANGUAGE, "XPath paths"),
        ("x > 1", "groovy", "expression language 'groovy' is not supported"),
        ("${bean.call()}", None, "method 'call()' is not supported"),
        ("=", None, "empty expression"),
    ],
)
def test_what_is_outside_the_subsets_is_refused_with_its_position(
    text: str, language: str | None, reason: str
) -> None:
    with pytest.raises(ExpressionRefused) as refused:
        condition_code(text, language)
    assert reason in refused.value.message


def test_feel_functions_translate() -> None:
    assert (
        evaluate(translate_subset('string join(items, ", ")', FEEL, boolean=False), items=["a", "b"])
        == "a, b"
    )
    assert evaluate(translate_subset("count(items)", FEEL, boolean=False), items=[1, 2, 3]) == 3
    assert evaluate(translate_subset("string(n)", FEEL, boolean=False), n=5) == "5"
    assert evaluate(translate_subset("upper case(s)", FEEL, boolean=False), s="ab") == "AB"
    with pytest.raises(ExpressionRefused, match="takes 1 argument"):
        translate_subset("count(a, b)", FEEL, boolean=False)


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ('"Hi " + name + "!"', {"name": "Ann"}, "Hi Ann!"),
        ('"Hi " + name', {}, None),  # null is not text: FEEL gives null, not an error
        ('"1" + 1', {}, None),
        ("a / b", {"a": 5, "b": 2}, 2.5),
        ("a / b", {"a": 1, "b": 0}, None),
        ("Current Vacation Status.email", {"Current Vacation Status": {"email": "a@b"}}, "a@b"),
        ("order.lines.price", {"order": {"lines": [{"price": 1}, {"price": 2}]}}, [1, 2]),
        ("missing.deeper.still", {}, None),
        ("body.value[1]", {"body": {"value": [{"x": 1}]}}, {"x": 1}),
        ('{"name": applicant.name, count: 2}', {"applicant": {"name": "Bo"}}, {"name": "Bo", "count": 2}),
        ('if result != null then result.risk else ["green"]', {"result": None}, ["green"]),
        ("if result != null then result.risk else []", {"result": {"risk": ["x"]}}, ["x"]),
        ('string join(risks, ", ")', {"risks": None}, None),
        ('string join(risks, ", ")', {"risks": ["a", None, "b"]}, "a, b"),
        ('list contains(tags, "vip")', {"tags": ["vip"]}, True),
        ("sum(amounts) > 3", {"amounts": [1, 2, 3]}, True),
        ('starts with(ref, "A")', {"ref": "AB"}, True),
        ("count(items)", {"items": None}, None),
        ("a > b", {"a": "x", "b": 1}, None),
    ],
)
def test_feel_values_follow_feel(text: str, data: dict[str, Any], expected: Any) -> None:
    assert evaluate(translate_subset(text, FEEL, boolean=False), **data) == expected


def test_values_translate_el_and_feel_and_keep_python() -> None:
    assert evaluate(expression_code("${a + 1}"), a=1) == 2
    assert evaluate(expression_code("= a + 1"), a=1) == 2
    assert expression_code("a + 1") == "a + 1"
    with pytest.raises(ExpressionRefused, match="XPath paths"):
        translate_subset("a", XPATH)


def test_a_conditional_events_condition_is_not_met_while_its_variable_is_missing() -> None:
    code = f"el_unless_unknown(lambda: {condition_code('${invoiceId != null}')})"
    assert evaluate(code) is False
    assert evaluate(code, invoiceId="INV-1") is True
    # Only a missing variable: any other failure still fails.
    with pytest.raises(ExpressionFailed, match="Cannot coerce"):
        evaluate(f"el_unless_unknown(lambda: {condition_code('${amount > 3}')})", amount="many")
