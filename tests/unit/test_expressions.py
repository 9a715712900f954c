"""Camunda EL -> Python translation: every construct evaluated, every refusal located."""

from __future__ import annotations

import ast
import importlib.util
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import ScriptRefused
from engine.expressions import (
    EL_FUNCTIONS,
    ExpressionFailed,
    ExpressionRefused,
    is_el,
    translate,
    translate_condition,
)

HAS_SANDBOX = importlib.util.find_spec("engine.sandbox") is not None


def run(text: str, **data: Any) -> Any:
    """Translate, check against the sandbox when it exists, then evaluate over ``data``."""
    code = translate(text)
    if HAS_SANDBOX:
        from engine.sandbox import check_source

        check_source(code, mode="eval")
    return eval(code, {**EL_FUNCTIONS, **data})


def refused(text: str) -> ExpressionRefused:
    with pytest.raises(ExpressionRefused) as caught:
        translate(text)
    return caught.value


# -- is_el ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${x}", True),
        ("#{x}", True),
        ("Order ${id}", True),
        ("${", True),  # unclosed: translate must get the chance to refuse it
        ("plain text", False),
        ("costs $5 {each}", False),
        ("\\${not an expression}", False),
        ("", False),
    ],
)
def test_is_el(text, expected):
    assert is_el(text) is expected


# -- literals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${42}", 42),
        ("${0}", 0),
        ("${3.5}", 3.5),
        ("${.5}", 0.5),
        ("${1.}", 1.0),
        ("${1e3}", 1000.0),
        ("${2.5E-1}", 0.25),
        ("${'single'}", "single"),
        ('${"double"}', "double"),
        ("${'it\\'s'}", "it's"),
        ('${"say \\"hi\\""}', 'say "hi"'),
        ("${'back\\\\slash'}", "back\\slash"),
        ("${'a \"mixed\" quote'}", 'a "mixed" quote'),
        ("${'brace } inside'}", "brace } inside"),
        ("${true}", True),
        ("${false}", False),
        ("${null}", None),
    ],
)
def test_literals(text, expected):
    result = run(text)
    assert result == expected
    assert type(result) is type(expected)


def test_text_without_el_is_a_string_literal():
    assert translate("Hello world") == repr("Hello world")
    assert run('it\'s "quoted"') == 'it\'s "quoted"'
    assert run("") == ""


# -- variables --------------------------------------------------------------------------


def test_variable_keeps_its_type():
    assert run("${amount}", amount=1500) == 1500
    assert run("${items}", items=[1, 2]) == [1, 2]


def test_variables_named_like_python_keywords_or_with_underscore():
    assert run("${from}", **{"from": "x"}) == "x"
    assert run("${lambda}", **{"lambda": 1}) == 1
    assert run("${_private}", _private=2) == 2
    assert run("${$dollar}", **{"$dollar": 3}) == 3


def test_unknown_variable_fails_like_camunda():
    with pytest.raises(ExpressionFailed) as caught:
        run("${x > 1}")
    assert caught.value.message == (
        "Unknown property used in expression: ${x > 1}. Cause: Cannot resolve identifier 'x'"
    )


def test_engine_globals_are_not_variables():
    # A helper name or a function in scope is not task data.
    with pytest.raises(ExpressionFailed, match="Cannot resolve identifier 'el_str'"):
        run("${el_str}")
    with pytest.raises(ExpressionFailed, match="Cannot resolve identifier 'helper'"):
        run("${helper}", helper=len)


def test_null_variable_is_not_unknown():
    assert run("${x}", x=None) is None


def test_variables_found_in_locals_as_well():
    code = translate("${a + b}")
    assert eval(code, dict(EL_FUNCTIONS), {"a": 1, "b": 2}) == 3


# -- arithmetic -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 + 2}", 3),
        ("${5 - 7}", -2),
        ("${3 * 4}", 12),
        ("${7 / 2}", 3.5),
        ("${6 / 3}", 2.0),
        ("${7 div 2}", 3.5),
        ("${7 % 3}", 1),
        ("${7 mod 3}", 1),
        ("${-7 % 3}", -1),  # Java: sign of the dividend
        ("${7 % -3}", 1),
        ("${7.5 % 2}", 1.5),
        ("${-7.5 % 2}", -1.5),
        ("${-5}", -5),
        ("${--5}", 5),
        ("${-(2 + 3)}", -5),
        ("${1 + 2 * 3}", 7),
        ("${(1 + 2) * 3}", 9),
        ("${10 - 4 - 3}", 3),
        ("${2 * 3 % 4}", 2),
        ("${1.5 + 1}", 2.5),
    ],
)
def test_arithmetic(text, expected):
    result = run(text)
    assert result == expected
    assert type(result) is type(expected)


def test_plus_coerces_strings_to_numbers():
    assert run("${a + b}", a="2", b="3") == 5
    assert run("${a + 1}", a="1.5") == 2.5
    assert run("${a * 2}", a="") == 0  # EL coerces "" to 0
    assert run("${-a}", a="4") == -4


def test_plus_on_non_numeric_strings_fails():
    with pytest.raises(ExpressionFailed, match="Cannot coerce 'abc' to a number"):
        run("${a + 'def'}", a="abc")


def test_arithmetic_on_null_fails_clearly():
    with pytest.raises(ExpressionFailed, match=r"Cannot apply '\+' to null"):
        run("${a + 1}", a=None)
    with pytest.raises(ExpressionFailed, match=r"Cannot apply '-' to null"):
        run("${-a}", a=None)


def test_arithmetic_on_booleans_and_collections_fails():
    with pytest.raises(ExpressionFailed, match="boolean 'true' to a number"):
        run("${true + 1}")
    with pytest.raises(ExpressionFailed, match="Cannot coerce list to a number"):
        run("${a * 2}", a=[1])


def test_division_by_zero_fails_clearly():
    with pytest.raises(ExpressionFailed, match="Division by zero"):
        run("${1 / 0}")
    with pytest.raises(ExpressionFailed, match="Modulo by zero"):
        run("${1 % 0}")


def test_decimals_stay_decimal():
    assert run("${a + 0.5}", a=Decimal("1.25")) == Decimal("1.75")
    assert run("${a / 4}", a=Decimal("1")) == Decimal("0.25")
    assert run("${a > 1.2}", a=Decimal("1.25")) is True


# -- comparison -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 == 1}", True),
        ("${1 eq 1.0}", True),
        ("${1 != 2}", True),
        ("${1 ne 1}", False),
        ("${1 < 2}", True),
        ("${2 lt 1}", False),
        ("${2 > 1}", True),
        ("${1 gt 2}", False),
        ("${2 <= 2}", True),
        ("${3 le 2}", False),
        ("${2 >= 3}", False),
        ("${3 ge 3}", True),
        ("${'abc' < 'abd'}", True),
        ("${'b' > 'a'}", True),
        ("${'5' == 5}", True),  # numbers win: the string is coerced
        ("${'10' > 9}", True),  # numerically, not lexically
        ("${true == 'true'}", True),
        ("${'a' == 'a'}", True),
        ("${null == null}", True),
        ("${null == 0}", False),
        ("${null != 'x'}", True),
        ("${null < 1}", False),
        ("${null > 1}", False),
        ("${null <= null}", True),
        ("${null < null}", False),
        ("${1 + 1 == 2}", True),
        ("${1 < 2 == true}", True),  # relational binds tighter than equality
    ],
)
def test_comparison(text, expected):
    assert run(text) is expected


def test_camunda_style_condition():
    assert run("${amount > 1000}", amount=1500) is True
    assert run("${amount > 1000}", amount=999.5) is False
    assert run("${status == 'approved'}", status="approved") is True


def test_comparing_incomparable_values_fails():
    with pytest.raises(ExpressionFailed, match="Cannot compare list with map"):
        run("${a < b}", a=[1], b={})


def test_dates_compare():
    early, late = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    assert run("${a < b}", a=early, b=late) is True
    assert run("${a == b}", a=early, b=early) is True


# -- logic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${true && false}", False),
        ("${true and true}", True),
        ("${false || true}", True),
        ("${false or false}", False),
        ("${!true}", False),
        ("${not false}", True),
        ("${!!true}", True),
        ("${true || false && false}", True),  # && binds tighter than ||
        ("${(true || false) && false}", False),
        ("${not (1 > 2)}", True),
        ("${'TRUE' && 'true'}", True),  # strings coerce with Boolean.valueOf
        ("${'yes' || null}", False),
    ],
)
def test_logic(text, expected):
    assert run(text) is expected


def test_logic_short_circuits():
    # The right side would fail on an unknown variable if it were evaluated.
    assert run("${false && missing}") is False
    assert run("${true || missing}") is True


def test_numbers_do_not_coerce_to_boolean():
    with pytest.raises(ExpressionFailed, match="Cannot coerce number '1' to a boolean"):
        run("${1 && true}")
    # "not" binds tighter than ">", so this negates the number 1, as in EL.
    with pytest.raises(ExpressionFailed, match="Cannot coerce number '1' to a boolean"):
        run("${not 1 > 2}")


# -- empty ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        ("", True),
        ([], True),
        ({}, True),
        ("x", False),
        ([0], False),
        ({"k": 1}, False),
        (0, False),
    ],
)
def test_empty(value, expected):
    assert run("${empty x}", x=value) is expected
    assert run("${not empty x}", x=value) is (not expected)
    assert run("${!empty x}", x=value) is (not expected)


# -- ternary ----------------------------------------------------------------------------


def test_ternary():
    assert run("${a > 1 ? 'big' : 'small'}", a=2) == "big"
    assert run("${a > 1 ? 'big' : 'small'}", a=0) == "small"
    assert run("${a ? 1 : b ? 2 : 3}", a=False, b=True) == 2  # right-associative
    assert run("${true ? 1 : missing}") == 1  # only the chosen branch is evaluated


# -- properties -------------------------------------------------------------------------


def test_dotted_property_on_map():
    assert run("${customer.name}", customer={"name": "Ada"}) == "Ada"
    assert run("${a.b.c}", a={"b": {"c": 3}}) == 3


def test_bracket_property():
    assert run("${customer['name']}", customer={"name": "Ada"}) == "Ada"
    assert run('${customer["first name"]}', customer={"first name": "Ada"}) == "Ada"
    assert run("${m[k]}", m={"x": 1}, k="x") == 1


def test_list_index():
    assert run("${items[0]}", items=["a", "b"]) == "a"
    assert run("${items[1 + 0]}", items=["a", "b"]) == "b"
    assert run("${items['1']}", items=["a", "b"]) == "b"
    assert run("${orders[0].total}", orders=[{"total": 9}]) == 9


def test_missing_entries_are_null():
    assert run("${customer.age}", customer={}) is None
    assert run("${items[5]}", items=[1]) is None
    assert run("${items[-1]}", items=[1]) is None
    assert run("${customer.address.city}", customer={}) is None
    assert run("${m[k]}", m={"x": 1}, k=None) is None


def test_property_of_scalar_fails():
    with pytest.raises(ExpressionFailed, match="Property 'size' not found on string"):
        run("${s.size}", s="abc")
    with pytest.raises(ExpressionFailed, match="Cannot use string 'name' as a list index"):
        run("${items.name}", items=[1])


def test_keyword_as_property_name():
    assert run("${a.empty}", a={"empty": 1}) == 1


# -- methods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${s.length()}", 11),
        ("${s.startsWith('Hello')}", True),
        ("${s.endsWith('world')}", True),
        ("${s.contains('o w')}", True),
        ("${s.toUpperCase()}", "HELLO WORLD"),
        ("${s.toLowerCase()}", "hello world"),
        ("${'  pad \t'.trim()}", "pad"),
        ("${s.isEmpty()}", False),
        ("${''.isEmpty()}", True),
        ("${s.equals('Hello world')}", True),
        ("${s.equals(5)}", False),
        ("${s.equalsIgnoreCase('HELLO WORLD')}", True),
        ("${s.equalsIgnoreCase(null)}", False),
        ("${s.substring(6)}", "world"),
        ("${s.substring(0, 5)}", "Hello"),
        ("${s.indexOf('o')}", 4),
        ("${s.indexOf('o', 5)}", 7),
        ("${s.indexOf('z')}", -1),
        ("${s.replace('world', 'there')}", "Hello there"),
        ("${s.matches('H.*d')}", True),
        ("${s.matches('world')}", False),  # whole-string match like Java
        ("${s.toString()}", "Hello world"),
        ("${s.toUpperCase().startsWith('HELLO')}", True),
    ],
)
def test_string_methods(text, expected):
    assert run(text, s="Hello world") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${items.size()}", 3),
        ("${items.contains('b')}", True),
        ("${items.contains('z')}", False),
        ("${items.isEmpty()}", False),
        ("${items.get(1)}", "b"),
        ("${numbers.contains(1)}", True),
        ("${numbers.contains(true)}", False),  # Java equals: Boolean is not a number
        ("${m.get('k')}", 1),
        ("${m.get('missing')}", None),
        ("${m.containsKey('k')}", True),
        ("${m.containsKey('z')}", False),
        ("${m.size()}", 1),
        ("${m.isEmpty()}", False),
        ("${m.equals(m)}", True),
    ],
)
def test_collection_methods(text, expected):
    assert run(text, items=["a", "b", "c"], numbers=[1, 2], m={"k": 1}) == expected


def test_method_errors_are_clear():
    with pytest.raises(ExpressionFailed, match=r"Method size\(\) not found on string"):
        run("${s.size()}", s="x")
    with pytest.raises(ExpressionFailed, match=r"Cannot call length\(\) on null"):
        run("${s.length()}", s=None)
    with pytest.raises(ExpressionFailed, match="out of range"):
        run("${s.substring(2, 9)}", s="abc")
    with pytest.raises(ExpressionFailed, match="out of range"):
        run("${items.get(3)}", items=[])
    with pytest.raises(ExpressionFailed, match="Invalid regular expression"):
        run("${s.matches('(')}", s="x")


# -- Camunda Spin's JSON API ---------------------------------------------------------------


def test_spin_reads_json_variables_as_camunda_does():
    customer = {"age": 30, "name": "Ann", "vip": True, "orders": [1, 2]}
    assert run('${customer.prop("age").numberValue() >= 21}', customer=customer) is True
    assert run('${customer.prop("name").stringValue()}', customer=customer) == "Ann"
    assert run('${customer.prop("vip").boolValue()}', customer=customer) is True
    assert run('${customer.prop("orders").elements().size()}', customer=customer) == 2
    assert run('${customer.hasProp("email")}', customer=customer) is False
    assert run('${S(raw).prop("a").value()}', raw='{"a": [1]}') == [1]
    assert run('${JSON(raw).prop("a").isArray()}', raw='{"a": [1]}') is True
    assert run('${S(data, "application/json").isObject()}', data={"a": 1}) is True


def test_spin_fails_where_spin_fails():
    with pytest.raises(ExpressionFailed, match="Unable to find property 'email'"):
        run('${customer.prop("email")}', customer={})
    with pytest.raises(ExpressionFailed, match="Expected a JSON number but found string"):
        run('${customer.prop("age").numberValue()}', customer={"age": "30"})
    with pytest.raises(ExpressionFailed, match="not JSON"):
        run('${S(raw).prop("a")}', raw="{oops")
    with pytest.raises(ExpressionFailed, match="only JSON"):
        run('${S(raw, "application/xml")}', raw="<a/>")


# -- execution and functions ------------------------------------------------------------


def test_execution_get_variable():
    assert run("${execution.getVariable('x')}", x=5) == 5
    assert run('${execution.getVariable("x") > 1}', x=5) is True
    assert run("${execution.getVariable('missing')}") is None  # no error, unlike ${missing}
    assert run("${execution.getVariable(name)}", name="x", x=7) == 7
    assert run("${execution.getVariableLocal('x')}", x=5) == 5


def test_execution_has_variable():
    assert run("${execution.hasVariable('x')}", x=None) is True
    assert run("${execution.hasVariable('y')}", x=None) is False


def test_execution_get_variables_holds_only_data():
    assert run("${execution.getVariables()}", a=1, b="x") == {"a": 1, "b": "x"}
    assert run("${execution.getVariables().size()}", a=1) == 1


def test_now_and_date_time():
    before = datetime.now(UTC)
    value = run("${now()}")
    assert before <= value <= datetime.now(UTC)
    assert run("${dateTime()}").tzinfo is UTC


def test_date_arithmetic_like_joda():
    start = datetime(2024, 1, 31, 12, tzinfo=UTC)
    assert run("${d.plusDays(2).toDate()}", d=start) == start + timedelta(days=2)
    assert run("${d.minusHours(1)}", d=start) == start - timedelta(hours=1)
    assert run("${d.plusMonths(1)}", d=start) == datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert run("${d.plusYears(1)}", d=datetime(2024, 2, 29, tzinfo=UTC)) == datetime(2025, 2, 28, tzinfo=UTC)
    assert run("${d.isBefore(dateTime())}", d=start) is True
    assert run("${dateTime().plusDays(1).isAfter(now())}") is True


# -- composite texts --------------------------------------------------------------------


def test_composite_text_builds_a_string():
    data = {"id": 7, "customer": {"name": "Ada"}}
    assert run("Order ${id} for ${customer.name}", **data) == "Order 7 for Ada"
    assert run("${id}${id}", id=1) == "11"
    assert run(" ${id}", id=1) == " 1"  # not a lone expression: the result is a string


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (1.0, "1.0"),
        (1e7, "1.0E7"),
        (1.5e-5, "1.5E-5"),
        (12345.5, "12345.5"),
        ([1, None, "a"], "[1, null, a]"),
        ({"k": False}, "{k=false}"),
    ],
)
def test_composite_text_renders_like_java(value, expected):
    assert run("<${v}>", v=value) == f"<{expected}>"


def test_escaped_expression_stays_literal():
    assert run("costs \\${price} now ${price}", price=3) == "costs ${price} now 3"
    assert translate("\\${x}") == repr("${x}")


def test_deferred_syntax_works_like_immediate():
    assert run("#{a + 1}", a=1) == 2


def test_condition_coerces_like_camunda():
    code = translate_condition("${flag}")
    assert eval(code, {**EL_FUNCTIONS, "flag": "false"}) is False
    assert eval(code, {**EL_FUNCTIONS, "flag": "TRUE"}) is True
    assert eval(code, {**EL_FUNCTIONS, "flag": None}) is False


# -- generated code ---------------------------------------------------------------------


def test_generated_code_uses_only_helpers():
    code = translate("${a.b > 1 && not empty c ? d.size() : execution.getVariable('e')}")
    names = {node.id for node in ast.walk(ast.parse(code, mode="eval")) if isinstance(node, ast.Name)}
    assert names <= set(EL_FUNCTIONS)


@pytest.mark.skipif(not HAS_SANDBOX, reason="engine.sandbox not written yet")
def test_runs_inside_the_sandbox_environment():
    from engine.sandbox import SandboxEnvironment

    environment = SandboxEnvironment(EL_FUNCTIONS)
    code = translate("${amount > 1000 && execution.getVariable('owner').startsWith('a')}")
    assert environment.evaluate(code, {"amount": 1500, "owner": "ada"}) is True
    assert environment.evaluate(translate("${execution.getVariables()}"), {"a": 1}) == {"a": 1}
    with pytest.raises(ExpressionFailed, match="Cannot resolve identifier 'missing'"):
        environment.evaluate(translate("${missing}"), {})


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment", "column"),
    [
        ("${a = 1}", "assignment '=' is not supported", 5),
        ("${a += 'x'}", "'+=' (EL 3.0) is not supported", 5),
        ("${a; b}", "separated by ';'", 4),
        ("${x -> x + 1}", "lambda expressions", 5),
        ("${{1, 2}}", "set or map literals", 3),
        ("${a & b}", "single '&'", 5),
        ("${a | b}", "single '|'", 5),
        ("${a # b}", "unexpected character '#'", 5),
        ("${T(java.lang.Math).random()}", "Java class references T(...)", 3),
        ("${myBean.doSomething()}", "method 'doSomething()' is not supported", 10),
        ("${fn:upper(x)}", "unexpected ':'", 5),
        ("${foo(1)}", "function 'foo()' is not supported", 3),
        ("${S()}", "function 'S()' takes 1 or 2 argument(s)", 3),
        ("${x.jsonPath('$.a')}", "method 'jsonPath()' is not supported", 5),
        ("${now(1)}", "function 'now()' takes no arguments", 3),
        ("${execution.setVariable('a', 1)}", "expressions must not change variables", 13),
        ("${execution.getProcessBusinessKey()}", "execution.getProcessBusinessKey() is not supported", 13),
        ("${execution.getVariable()}", "takes 1 argument(s), not 0", 13),
        ("${execution.id}", "properties of 'execution' are not supported", 13),
        ("${execution}", "'execution' can only be used", 3),
        ("${task.assignee}", "context object 'task'", 3),
        ("${externalTask}", "context object 'externalTask'", 3),
        ("${s.substring()}", "takes 1 or 2 argument(s), not 0", 5),
        ("${a instanceof b}", "'instanceof' is not supported", 5),
        ("${}", "empty expression", 3),
        ("${a", "unclosed expression", 4),
        ("${'abc}", "unclosed string literal", 3),
        ("${'a\\nb'}", "invalid escape sequence '\\n'", 5),
        ("${1 +}", "unexpected the end of the expression", 6),
        ("${(1 + 2}", "expected ')'", 9),
        ("${a b}", "unexpected 'b'", 5),
        ("${a ? b}", "expected ':'", 8),
        ("${a.}", "expected a property name after '.'", 5),
        ("${a[0](1)}", "only functions and methods can be called", 7),
        ("${1e999}", "too large", 3),
        ("Total: ${a} and ${b c}", "unexpected 'c'", 21),
        ("${empty}", "unexpected the end", 8),
    ],
)
def test_refusals_name_the_construct_and_its_position(text, fragment, column):
    error = refused(text)
    assert fragment in error.message
    assert error.column == column
    assert error.line is None
    assert f"position {column}" in error.message
    assert isinstance(error, ScriptRefused)


def test_nesting_is_bounded():
    assert run("${" + "(" * 40 + "1" + ")" * 40 + "}") == 1
    assert (
        refused("${" + "(" * 60 + "1" + ")" * 60 + "}").column == 3 + 50
    )  # the 51st level opens at the 51st parenthesis
    assert "nested more than 50" in refused("${" + "!" * 60 + "true}").message
    assert "nested more than 50" in refused("${" + " + ".join(["1"] * 60) + "}").message
    assert "nested more than 50" in refused("${a" + ".b" * 60 + "}").message
