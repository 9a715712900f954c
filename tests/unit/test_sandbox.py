"""The script sandbox: real escape attempts are refused, ordinary data scripts still work."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine import sandbox
from engine.errors import ScriptRefused
from engine.sandbox import SAFE_BUILTINS, SandboxEnvironment, check_source, make_script_engine

ESCAPES = [
    ("__import__('os')", "'__import__'"),
    ("import os", "import statements"),
    ("from os import path", "import statements"),
    ("open('/etc/passwd')", "'open'"),
    ("().__class__.__mro__[1].__subclasses__()", "'.__class__'"),
    ("x = 1\ngetattr(x, '__cla' + 'ss__')", "'getattr'"),
    ("eval('1')", "'eval'"),
    ("exec('x=1')", "'exec'"),
    ("compile('1', 'f', 'eval')", "'compile'"),
    ('"{0.__class__}".format(1)', "'.format'"),
    ('"{x}".format_map({"x": 1})', "'.format_map'"),
    ("str.format('{0.__class__}', 1)", "'.format'"),
    ("(lambda: 0).__globals__", "'.__globals__'"),
    ("(x for x in []).gi_frame.f_globals", "'.gi_frame'"),
    ("globals()", "'globals'"),
    ("locals()", "'locals'"),
    ("vars()", "'vars'"),
    ("dir()", "'dir'"),
    ("type(1)", "'type'"),
    ("object.__subclasses__()", "'object'"),
    ("int.mro()", "'.mro'"),
    ("_private = 1", "'_private'"),
    ("x = __builtins__", "'__builtins__'"),
    ("breakpoint()", "'breakpoint'"),
    ("class A:\n    pass", "class definitions"),
    ("def f():\n    global x\n    x = 1", "'global' statements"),
    ("def f():\n    yield 1", "yield"),
    ("async def f():\n    pass", "async functions"),
    ("with x as y:\n    pass", "with statements"),
    ('f"{x.__class__}"', "'.__class__'"),
    ("def f(__x):\n    return __x", "'__x'"),
    ("dict(__class__=1)", "'__class__'"),
    ("match 1:\n    case int(__class__=c):\n        pass", "'__class__'"),
    ("try:\n    1 / 0\nexcept Exception as e:\n    t = e.__traceback__.tb_frame", "'.__traceback__'"),
    ("x = 10 ** 10 ** 10", "power towers"),
    ("x = 2 ** 100000000", "exponents or shifts above"),
    ("x = pow(2, 100000000)", "exponents or shifts above"),
    ("x = 1 << 100000000", "exponents or shifts above"),
]


@pytest.mark.parametrize(("script", "expected"), ESCAPES)
def test_check_source_refuses_escape(script: str, expected: str) -> None:
    with pytest.raises(ScriptRefused) as caught:
        check_source(script, mode="exec")
    assert expected in caught.value.message
    assert caught.value.line is not None
    assert caught.value.column is not None
    assert f"line {caught.value.line}" in caught.value.message


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('id')", "().__class__", "getattr(1, 'real')", "(x for x in []).gi_frame"],
)
def test_check_source_refuses_expressions(expression: str) -> None:
    with pytest.raises(ScriptRefused):
        check_source(expression, mode="eval")


def test_refusal_reports_line_and_column_of_the_construct() -> None:
    script = "a = 1\nb = a + 1\nc = b.__class__\n"
    with pytest.raises(ScriptRefused) as caught:
        check_source(script, mode="exec")
    assert caught.value.line == 3
    assert caught.value.column == 7  # the "__class__" after "c = b."
    assert "line 3" in caught.value.message


def test_first_refusal_in_text_order_is_reported() -> None:
    with pytest.raises(ScriptRefused) as caught:
        check_source("x = 1\nimport os\ny = open('f')\n", mode="exec")
    assert caught.value.line == 2
    assert "import" in caught.value.message


def test_syntax_error_becomes_refusal_with_line() -> None:
    with pytest.raises(ScriptRefused) as caught:
        check_source("a = 1\nb = (\n", mode="exec")
    assert caught.value.line == 2
    assert "Syntax error" in caught.value.message


def test_indented_script_from_xml_reports_original_columns() -> None:
    check_source("\n    a = 1\n    b = a * 2\n", mode="exec")
    with pytest.raises(ScriptRefused) as caught:
        check_source("\n    a = 1\n    b = a.__class__\n", mode="exec")
    assert (caught.value.line, caught.value.column) == (3, 11)


@pytest.mark.parametrize(
    "script",
    [
        "total = sum(item['price'] * item['qty'] for item in items)",
        "names = [c.upper() for c in ['a', 'b'] if c]\nfound = {k: v for k, v in {'a': 1}.items()}",
        "for _ in range(3):\n    pass",
        "def double(x):\n    return x * 2\ny = double(3)",
        "sq = (lambda v: v * v)(4)",
        "try:\n    1 / 0\nexcept ZeroDivisionError as err:\n    msg = str(err)",
        "label = f'{name!r:>10} {amount:.2f}'",
        "format = 'pdf'\nkind = format.upper()",
        "d = {}\nd.setdefault('x', []).append(1)\nv = d.get('x')",
        "due = datetime(2024, 1, 31, tzinfo=timezone.utc) + timedelta(days=1)",
        "n = 2 ** 64",
        "match status:\n    case 'open':\n        flag = True\n    case _:\n        flag = False",
    ],
)
def test_check_source_allows_ordinary_scripts(script: str) -> None:
    check_source(script, mode="exec")


def test_safe_builtins_hold_nothing_dangerous() -> None:
    dangerous = sandbox.REFUSED_NAMES | {"__import__", "__build_class__", "format", "print", "id"}
    assert not dangerous & set(SAFE_BUILTINS)
    assert not any(name.startswith("_") for name in SAFE_BUILTINS)
    with pytest.raises(TypeError):
        SAFE_BUILTINS["open"] = open  # type: ignore[index]


def test_execute_refuses_escape_before_running() -> None:
    context: dict[str, Any] = {"x": 1}
    with pytest.raises(ScriptRefused, match="__import__"):
        SandboxEnvironment().execute("y = 2\n__import__('os').system('touch /tmp/pwned')", context)
    assert "y" not in context
    assert "__builtins__" not in context


def test_evaluate_refuses_escape() -> None:
    with pytest.raises(ScriptRefused, match="__class__"):
        SandboxEnvironment().evaluate("().__class__.__mro__", {})


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bypass the static check, to prove the runtime builtins alone still hold."""
    monkeypatch.setattr(sandbox, "_compiled", lambda source, mode: compile(source, "<string>", mode))


@pytest.mark.usefixtures("unchecked")
@pytest.mark.parametrize(
    "expression",
    ["__import__('os')", "open('/etc/passwd')", "eval('1')", "getattr(1, 'real')", "globals()", "vars()"],
)
def test_runtime_builtins_lack_dangerous_functions(expression: str) -> None:
    with pytest.raises(NameError):
        SandboxEnvironment().execute(expression, {})
    with pytest.raises(NameError):
        SandboxEnvironment().evaluate(expression, {})


@pytest.mark.usefixtures("unchecked")
@pytest.mark.parametrize(
    ("script", "error"),
    [("import os", ImportError), ("class A:\n    pass", NameError)],  # no __import__/__build_class__
)
def test_runtime_builtins_lack_import_and_class_machinery(script: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        SandboxEnvironment().execute(script, {})


@pytest.mark.usefixtures("unchecked")
def test_task_data_cannot_smuggle_in_real_builtins() -> None:
    context: dict[str, Any] = {"__builtins__": __builtins__}
    with pytest.raises(NameError):
        SandboxEnvironment().execute("open('/etc/passwd')", context)
    with pytest.raises(NameError):
        SandboxEnvironment().evaluate("open('/etc/passwd')", {"__builtins__": __builtins__})
    assert "__builtins__" not in context


def test_execute_computes_task_data() -> None:
    context: dict[str, Any] = {"items": [{"price": 2.5, "qty": 2}, {"price": 1.0, "qty": 3}]}
    SandboxEnvironment().execute(
        "total = sum(i['price'] * i['qty'] for i in items)\n"
        "big = [i for i in items if i['qty'] > 2]\n"
        "count = len(items)\n",
        context,
    )
    assert context["total"] == 8.0
    assert context["big"] == [{"price": 1.0, "qty": 3}]
    assert context["count"] == 2


def test_evaluate_conditions_over_task_data() -> None:
    env = SandboxEnvironment()
    assert env.evaluate("amount > 100 and status == 'open'", {"amount": 150, "status": "open"}) is True
    assert env.evaluate("\n    amount > 100\n", {"amount": 50}) is False
    assert env.evaluate("any(x > 2 for x in values)", {"values": [1, 3]}) is True


def test_datetime_and_decimal_arithmetic() -> None:
    context: dict[str, Any] = {"start": datetime(2024, 1, 30)}
    SandboxEnvironment().execute(
        "due = start + timedelta(days=3)\n"
        "day = date(2024, 2, 2)\n"
        "same = due.date() == day\n"
        "price = Decimal('10.10') * 3\n",
        context,
    )
    assert context["due"] == datetime(2024, 2, 2)
    assert context["same"] is True
    assert context["price"] == Decimal("30.30")


def test_task_data_may_shadow_builtin_names() -> None:
    context: dict[str, Any] = {"date": "2024-01-01"}
    SandboxEnvironment().execute("year = date[:4]", context)
    assert context["year"] == "2024"


def test_after_execute_context_holds_only_data() -> None:
    context: dict[str, Any] = {"n": 3}
    SandboxEnvironment().execute(
        "def helper(v):\n    return v + 1\n"
        "m = helper(n)\n"
        "f = lambda: 1\n"
        "cls = datetime\n"
        "gen = (i for i in range(n))\n"
        "it = map(str, [1])\n"
        "values = list(range(n))\n",
        context,
    )
    assert context == {"n": 3, "m": 4, "values": [0, 1, 2]}
    assert not any(callable(v) for v in context.values())


def test_extra_globals_are_usable_and_not_left_in_data() -> None:
    env = SandboxEnvironment({"greet": lambda who: f"hello {who}"})
    context: dict[str, Any] = {"who": "ann"}
    env.execute("msg = greet(who)", context)
    assert context == {"who": "ann", "msg": "hello ann"}
    assert env.evaluate("greet(who) == 'hello ann'", context) is True


def test_task_data_cannot_overwrite_extra_globals() -> None:
    env = SandboxEnvironment({"greet": lambda who: who})
    with pytest.raises(ValueError, match="greet"):
        env.execute("x = greet(1)", {"greet": "oops"})
    with pytest.raises(ValueError, match="greet"):
        env.evaluate("greet", {"greet": "oops"})


@pytest.mark.parametrize("name", ["_hidden", "eval", "__builtins__", "not valid"])
def test_extra_globals_with_refused_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="refused names"):
        SandboxEnvironment({name: len})


def test_compiled_code_is_cached() -> None:
    env = SandboxEnvironment()
    script = "cached_probe = 41 + 1"
    env.execute(script, {})
    before = sandbox._compiled.cache_info().hits
    env.execute(script, {})
    assert sandbox._compiled.cache_info().hits == before + 1
    assert sandbox._compiled.cache_info().maxsize == sandbox.COMPILE_CACHE_SIZE


BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="defs" targetNamespace="http://example.com/bpmn">
  <bpmn:process id="deal" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="route"/>
    <bpmn:exclusiveGateway id="route" default="small_flow"/>
    <bpmn:sequenceFlow id="big_flow" sourceRef="route" targetRef="big_end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">total &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="small_flow" sourceRef="route" targetRef="small_end"/>
    <bpmn:endEvent id="big_end"/>
    <bpmn:endEvent id="small_end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _run(script: str, data: dict[str, Any]) -> BpmnWorkflow:
    parser = BpmnParser()
    parser.add_bpmn_str(BPMN.replace("{script}", script).encode())
    workflow = BpmnWorkflow(parser.get_spec("deal"), script_engine=make_script_engine())
    workflow.get_tasks(spec_name="start")[0].data.update(data)
    workflow.do_engine_steps()
    return workflow


@pytest.mark.parametrize(("qty", "end"), [(30, "big_end"), (2, "small_end")])
def test_workflow_runs_script_task_and_gateway(qty: int, end: str) -> None:
    workflow = _run("total = price * qty\nlines = [i for i in range(qty)]", {"price": 5, "qty": qty})
    assert workflow.is_completed()
    end_task = workflow.get_tasks(spec_name=end)[0]
    assert end_task.data["total"] == 5 * qty
    assert end_task.has_state(TaskState.COMPLETED)
    assert not any(callable(v) for v in end_task.data.values())
    other = "small_end" if end == "big_end" else "big_end"
    assert not workflow.get_tasks(spec_name=other, state=TaskState.COMPLETED)


def test_workflow_with_escaping_script_fails() -> None:
    with pytest.raises(WorkflowTaskException) as caught:
        _run("total = 1\nx = ().__class__.__mro__[1].__subclasses__()", {})
    error = caught.value
    assert error.error_type == "ScriptRefused"
    assert "__class__" in str(error)
    cause = error.__cause__ or error.__context__
    assert isinstance(cause, ScriptRefused)
    assert cause.line == 2


def test_workflow_with_escaping_condition_fails() -> None:
    parser = BpmnParser()
    xml = BPMN.replace("{script}", "total = 1").replace("total &gt; 100", "().__class__")
    parser.add_bpmn_str(xml.encode())
    workflow = BpmnWorkflow(parser.get_spec("deal"), script_engine=make_script_engine())
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert isinstance(caught.value.__cause__ or caught.value.__context__, ScriptRefused)
    assert "__class__" in str(caught.value) or "__class__" in str(caught.value.__context__)


def test_datetime_from_workflow_script_is_data() -> None:
    workflow = _run("total = 1\nwhen = datetime(2024, 1, 1) + timedelta(hours=1)", {})
    end_task = workflow.get_tasks(spec_name="small_end")[0]
    assert end_task.data["when"] == datetime(2024, 1, 1, 1)
    assert "datetime" not in end_task.data and "timedelta" not in end_task.data
