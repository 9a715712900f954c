"""What the dry run supplies and in which order it deploys: the parts that need no database."""

from __future__ import annotations

from pathlib import Path

from engine.bpmn.conditions import condition_code
from engine.dry_run import deploy_order, read_variables
from engine.expressions import EL_FUNCTIONS
from engine.sandbox import SAFE_BUILTINS


def holds(code: str, data: dict[str, object]) -> bool:
    return bool(eval(code, {**EL_FUNCTIONS, **data, "__builtins__": dict(SAFE_BUILTINS)}))


def test_start_data_satisfies_the_first_comparison_of_each_variable_and_property() -> None:
    conditions = [
        condition_code('${customer.prop("age").numberValue() >= 21}'),
        condition_code('${customer.prop("age").numberValue() < 21}'),
        condition_code("${status == 'open'}"),
        condition_code("= order.total > 100"),
        condition_code("= count < 3"),
        condition_code("${approved}"),
    ]
    data = read_variables(conditions)
    assert data == {
        "customer": {"age": 21},
        "status": "open",
        "order": {"total": 101},
        "count": 2,
        "approved": True,
    }
    assert holds(conditions[0], data) and holds(conditions[2], data) and holds(conditions[3], data)


def diagram(folder: Path, name: str, process: str, calls: str | None = None) -> Path:
    call = f'<bpmn:callActivity id="c" calledElement="{calls}"/>' if calls else ""
    path = folder / name
    path.write_text(
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
        f'<bpmn:process id="{process}">{call}</bpmn:process></bpmn:definitions>'
    )
    return path


def test_a_file_deploys_after_the_files_whose_processes_it_calls(tmp_path: Path) -> None:
    caller = diagram(tmp_path, "a.bpmn", "onboarding", calls="check")
    middle = diagram(tmp_path, "b.bpmn", "check", calls="request")
    called = diagram(tmp_path, "c.bpmn", "request")
    alone = diagram(tmp_path, "d.bpmn", "other")
    assert deploy_order([alone, called, middle, caller]) == [called, middle, caller, alone]
    # Calls in a circle cannot all come first; each file is still deployed once.
    first = diagram(tmp_path, "x.bpmn", "x", calls="y")
    second = diagram(tmp_path, "y.bpmn", "y", calls="x")
    assert deploy_order([second, first]) == [second, first]
