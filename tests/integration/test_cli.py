"""The operator commands, run as `flask --app api …` would run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from api import create_app
from engine.clock import ManualClock
from engine.handler_registry import HandlerRegistry
from tests.conftest import FIXTURES, make_engine
from tests.integration.rest_support import service_handlers


@pytest.fixture
def app(db_url: str) -> Flask:
    return create_app(
        {"DATABASE_URL": db_url, "FORMS_DIR": str(FIXTURES / "forms"), "SCHEDULER_ENABLED": False}
    )


def run(app: Flask, *args: str) -> Result:
    runner = app.test_cli_runner()
    assert isinstance(runner, CliRunner)
    return runner.invoke(args=list(args))


def ok(app: Flask, *args: str) -> str:
    result = run(app, *args)
    assert result.exit_code == 0, (result.output, result.stderr if hasattr(result, "stderr") else "")
    return result.stdout


def test_a_case_from_the_command_line(app: Flask) -> None:
    ok(app, "init-db")
    table = ok(app, "deploy", str(FIXTURES / "child.bpmn"), str(FIXTURES / "case.bpmn"))
    assert "KEY" in table and "case" in table and "deployed" in table
    again = json.loads(ok(app, "deploy", str(FIXTURES / "case.bpmn"), "--json"))
    assert [(d["key"], d["version"], d["new"]) for d in again["definitions"]] == [("case", 1, False)]

    definitions = json.loads(ok(app, "definitions", "--json"))
    assert {(d["key"], d["version"]) for d in definitions} == {("case", 1), ("child", 1)}
    assert all(d["id"].startswith(d["key"] + ":1:") for d in definitions)

    started = json.loads(
        ok(
            app,
            "start",
            "case",
            "--business-key",
            "C-77",
            "--var",
            "severity=4",
            "--var",
            "note=hello",
            "--json",
        )
    )
    instance_id = started["id"]
    tasks = json.loads(ok(app, "tasks", "--role", "agent", "--json"))
    [task] = [t for t in tasks if t["instance_id"] == instance_id]
    for field in ("id", "name", "element_id", "instance_id", "business_key", "role", "assignee", "due_at"):
        assert field in task
    assert (task["element_id"], task["business_key"], task["role"]) == ("intake", "C-77", "agent")
    assert "intake" in ok(app, "tasks", "--role", "agent")

    data = json.dumps({"customer": "ACME", "severity": 4})
    ok(app, "complete", task["id"], "--data", data, "--as", "alice")

    shown = json.loads(ok(app, "instance", instance_id, "--json"))
    assert shown["variables"]["customer"] == "ACME" and shown["variables"]["note"] == "hello"
    assert [t["element_id"] for t in shown["tasks"]] == ["resolve"]
    assert "Resolve" in ok(app, "instance", instance_id)

    events = json.loads(ok(app, "history", instance_id, "--json"))
    completed = [e for e in events if e["type"] == "task_completed"]
    assert completed[0]["actor"] == "alice" and completed[0]["data"]["data"]["customer"] == "ACME"
    for field in ("type", "actor", "at", "instance_id", "task_id", "data"):
        assert field in events[0]
    by_key = json.loads(ok(app, "history", "--business-key", "C-77", "--json"))
    assert len(by_key) == len(events)

    verified = json.loads(ok(app, "verify-history", "--json"))
    assert verified["ok"] is True and verified["checked"] >= len(events)
    assert "History intact" in ok(app, "verify-history")


def test_errors_go_to_stderr_with_a_nonzero_exit(app: Flask, tmp_path: Path) -> None:
    ok(app, "init-db")
    missing = run(app, "complete", "no-such-task")
    assert missing.exit_code == 1 and "No task with id" in missing.stderr and missing.stdout == ""

    broken = tmp_path / "broken.bpmn"
    broken.write_text((FIXTURES / "child.bpmn").read_text().replace("</bpmn:process>", ""))
    refused = run(app, "deploy", str(broken))
    assert refused.exit_code == 1
    assert "broken.bpmn:" in refused.stderr and "well-formed" in refused.stderr
    assert json.loads(ok(app, "definitions", "--json")) == []

    bad_var = run(app, "start", "child", "--var", "novalue")
    assert bad_var.exit_code != 0 and "name=value" in bad_var.stderr
    unknown = run(app, "start", "nothing-deployed")
    assert unknown.exit_code == 1 and "nothing-deployed" in unknown.stderr

    # Arguments that are not UTF-8 reach Python as lone surrogates, which nothing can store.
    not_utf8 = run(app, "start", "child", "--as", "al\udcffice")
    assert not_utf8.exit_code == 2 and "--as" in not_utf8.stderr and "not UTF-8" in not_utf8.stderr
    odd_name = tmp_path / "odd\udcff.bpmn"
    odd_name.write_bytes((FIXTURES / "child.bpmn").read_bytes())
    refused_file = run(app, "deploy", str(odd_name))
    assert refused_file.exit_code == 2 and "not UTF-8" in refused_file.stderr
    assert json.loads(ok(app, "definitions", "--json")) == []


def test_a_variable_no_case_can_hold_is_refused_with_its_reason(app: Flask) -> None:
    ok(app, "init-db")
    ok(app, "deploy", str(FIXTURES / "child.bpmn"))
    for value, reason in (
        ("NaN", "NaN is not a number JSON allows"),
        ("[1, -Infinity]", "-Infinity is not a number JSON allows"),
        ("1e400", "1e400 is too large a number"),
        ("[" * 100 + "]" * 100, "nested too deeply"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ):
        refused = run(app, "start", "child", "--var", f"x={value}")
        assert refused.exit_code != 0 and reason in refused.stderr and "--var" in refused.stderr, value
    for data, reason in (
        ('{"x": NaN}', "NaN is not a number JSON allows"),
        ('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}", "the data is nested too deeply"),
    ):
        refused = run(app, "complete", "no-such-task", "--data", data)
        assert refused.exit_code != 0 and reason in refused.stderr and "--data" in refused.stderr
    assert app.extensions["engine"].queries.count_instances() == 0


def test_an_operator_repairs_a_stalled_case_from_the_command_line(
    db_url: str, handlers: HandlerRegistry, clock: ManualClock
) -> None:
    service_handlers(handlers)  # api_check fails while severity is 1
    engine = make_engine(db_url, handlers, clock)
    app = create_app({"ENGINE": engine, "SCHEDULER_ENABLED": False})
    ok(app, "deploy", str(FIXTURES / "api_service.bpmn"))
    instance_id = json.loads(ok(app, "start", "service_call", "--json"))["id"]
    [record] = json.loads(ok(app, "tasks", "--instance", instance_id, "--json"))
    ok(app, "complete", record["id"], "--data", json.dumps({"customer": "ACME", "severity": 1}))
    [incident] = json.loads(ok(app, "instance", instance_id, "--json"))["open_incidents"]

    failed = run(app, "retry-incident", incident["id"])
    assert failed.exit_code == 1 and "Failed again" in failed.stderr and "registry is down" in failed.stderr
    [incident] = json.loads(ok(app, "instance", instance_id, "--json"))["open_incidents"]

    bad = run(app, "set-var", instance_id, "--var", "severity=2", "--remove", "severity")
    assert bad.exit_code == 1 and "both set and removed" in bad.stderr
    printed = ok(
        app, "set-var", instance_id, "--var", "severity=2", "--var", "fixed_by=ops", "--remove", "nope"
    )
    assert "set severity = 2 (was 1)" in printed and "set fixed_by = 'ops' (new)" in printed
    assert "nope was not set" in printed
    retried = json.loads(ok(app, "retry-incident", incident["id"], "--json"))
    assert retried["failed_again"] == [] and retried["incident"]["state"] == "resolved"
    shown = json.loads(ok(app, "instance", instance_id, "--json"))
    assert shown["variables"]["checked"] is True and shown["open_incidents"] == []
    events = json.loads(ok(app, "history", instance_id, "--json"))
    [change] = [e for e in events if e["type"] == "variables_changed"]
    assert change["actor"] == "operator" and change["data"]["previous"] == {"severity": 1}
    missing = run(app, "set-var", "no-such-instance", "--var", "a=1")
    assert missing.exit_code == 1 and "no-such-instance" in missing.stderr
