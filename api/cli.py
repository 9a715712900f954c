"""Operator commands: ``flask --app api <command>``.

Each prints a readable table, or JSON with ``--json``; errors go to standard error with a
non-zero exit code. The database is the one ``DATABASE_URL`` names.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from engine import json_values
from engine.engine import Engine
from engine.errors import DefinitionError, EngineError
from engine.json_values import encodable
from engine.schema import upgrade

F = TypeVar("F", bound=Callable[..., Any])


def app_engine() -> Engine:
    """The engine of the application the command runs in."""
    engine: Engine = current_app.extensions["engine"]
    return engine


def app_actor(name: str | None) -> Any:
    """Who a command acts as: the user ``--as`` names, else the operator."""
    return current_app.extensions["resolve_actor"](name)


def _refuse_text_no_store_keeps(values: dict[str, Any]) -> None:
    """Arguments are decoded with surrogateescape: bytes that are not UTF-8 arrive as lone
    surrogates, which no database or history hash takes. Refuse them as a usage error."""
    for name, value in values.items():
        items = value if isinstance(value, (tuple, list)) else (value,)
        if any(isinstance(item, (str, Path)) and not encodable(str(item)) for item in items):
            params = {p.name: p for p in click.get_current_context().command.params}
            option = params.get(name)
            hint = (option.opts[0] if option.opts else name) if option is not None else name
            raise click.BadParameter("holds bytes that are not UTF-8 text", param_hint=hint)


def engine_errors(func: F) -> F:
    """Engine refusals become a message on standard error and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _refuse_text_no_store_keeps(kwargs)
        try:
            return func(*args, **kwargs)
        except DefinitionError as exc:
            click.echo(f"Error: {exc.title}", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            sys.exit(1)
        except EngineError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            for detail in exc.details().get("errors", []):
                click.echo(f"  {detail['field']}: {detail['message']}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def emit(
    as_json: bool, data: Any, rows: Iterable[dict[str, Any]] | None = None, columns: Sequence[str] = ()
) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print_table(list(rows if rows is not None else data), columns)


def parse_value(raw: str) -> Any:
    """A variable's value as typed: JSON if it parses as JSON (numbers, true, lists), else text.

    ValueError, with a message for people, for JSON no variable can hold: NaN or Infinity
    (JSON has neither; they would be stored and break comparisons and exports), a number
    beyond a float, or nesting deeper than MAX_VARIABLE_DEPTH (see engine/json_values.py).
    """
    try:
        return json_values.loads(raw)
    except json_values.UnfitJson:
        raise
    except ValueError:
        return raw


def parse_var(text: str) -> tuple[str, Any]:
    """``name=value``: the value is JSON if it parses as JSON (numbers, true, lists), else text."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not name=value", param_hint="--var")
    try:
        value = parse_value(raw)
    except ValueError as exc:
        raise click.BadParameter(f"{name.strip()}: {exc}", param_hint="--var") from None
    return name.strip(), value


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.command("init-db")
@with_appcontext
@engine_errors
def init_db() -> None:
    """Create or migrate the database schema to the latest version."""
    upgrade(app_engine().db)
    click.echo(f"Database ready: {app_engine().db.engine.url.render_as_string(hide_password=True)}")


@click.command("deploy")
@with_appcontext
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--as", "actor", default="designer", help="Who deploys (recorded in the history).")
@click.option("--all", "deploy_all", is_flag=True, help="Make a new version even of unchanged files.")
@json_option
@engine_errors
def deploy(paths: tuple[Path, ...], actor: str, deploy_all: bool, as_json: bool) -> None:
    """Validate and deploy BPMN/DMN files or folders (forms come from forms/ or the folders)."""
    report = app_engine().deploy_paths(list(paths), actor=actor, changed_only=not deploy_all)
    if as_json:
        emit(True, report.to_dict())
        return
    rows = [{**d.to_dict(), "status": "deployed" if d.new else "unchanged"} for d in report.definitions]
    print_table(rows, ["key", "version", "status", "executable", "resource", "id"])
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.command("definitions")
@with_appcontext
@click.option("--key", help="Only this process key.")
@json_option
@engine_errors
def definitions(key: str | None, as_json: bool) -> None:
    """List deployed process definitions and their versions."""
    data = app_engine().queries.definitions(key)
    emit(as_json, data, columns=["key", "version", "name", "executable", "id"])


@click.command("start")
@with_appcontext
@click.argument("key")
@click.option("--business-key", "-b", help="The case's business key (e.g. the complaint number).")
@click.option("--var", "variables", multiple=True, help="name=value (JSON or text); repeatable.")
@click.option("--as", "actor", default=None, help="Who starts it.")
@json_option
@engine_errors
def start(
    key: str, business_key: str | None, variables: tuple[str, ...], actor: str | None, as_json: bool
) -> None:
    """Start an instance of the latest version of process KEY (or of a definition id)."""
    data = dict(parse_var(v) for v in variables)
    by_id = key.count(":") >= 2
    instance_id = app_engine().runtime.start(
        actor=app_actor(actor),
        process_key=None if by_id else key,
        definition_id=key if by_id else None,
        business_key=business_key,
        variables=data,
    )
    if as_json:
        emit(True, {"id": instance_id})
    else:
        click.echo(instance_id)


@click.command("tasks")
@with_appcontext
@click.option("--role", help="Tasks of this role.")
@click.option("--assignee", help="Tasks assigned to this user.")
@click.option("--instance", "instance_id", help="Tasks of this instance.")
@click.option("--business-key", "-b", help="Tasks of this case.")
@json_option
@engine_errors
def tasks(
    role: str | None,
    assignee: str | None,
    instance_id: str | None,
    business_key: str | None,
    as_json: bool,
) -> None:
    """List open user tasks."""
    engine = app_engine()
    data = engine.queries.tasks(
        role=role,
        assignee=assignee,
        instance_id=instance_id,
        business_key=business_key,
        now=engine.clock.now(),
    )
    emit(
        as_json,
        data,
        columns=["id", "name", "element_id", "instance_id", "business_key", "role", "assignee", "due_at"],
    )


@click.command("complete")
@with_appcontext
@click.argument("task_id")
@click.option("--data", default="{}", help="The form data, as a JSON object.")
@click.option("--as", "actor", default=None, help="Who completes it.")
@json_option
@engine_errors
def complete(task_id: str, data: str, actor: str | None, as_json: bool) -> None:
    """Complete a user task with data."""
    try:
        payload = json_values.loads(data, json_values.MAX_BODY_DEPTH, "the data")
    except json_values.UnfitJson as exc:
        raise click.BadParameter(str(exc), param_hint="--data") from None
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from exc
    engine = app_engine()
    engine.runtime.complete_task(task_id, payload, app_actor(actor))
    task = engine.queries.task(task_id)
    if as_json:
        emit(True, task)
    else:
        click.echo(
            f"Completed {task['name'] or task_id} ({task['element_id']}) of instance {task['instance_id']}"
        )


@click.command("instance")
@with_appcontext
@click.argument("instance_id")
@json_option
@engine_errors
def instance(instance_id: str, as_json: bool) -> None:
    """Show an instance: status, variables, open tasks and incidents."""
    engine = app_engine()
    data = engine.queries.instance(instance_id, engine.clock.now())
    if as_json:
        emit(True, data)
        return
    for field in ("id", "process_key", "business_key", "status", "suspended", "started_at", "ended_at"):
        click.echo(f"{field:13} {_cell(data[field])}")
    click.echo("variables:")
    for name, value in data["variables"].items():
        click.echo(f"  {name} = {_cell(value)}")
    click.echo("open tasks:")
    print_table(data["tasks"], ["id", "name", "role", "assignee", "due_at"])
    if data["open_incidents"]:
        click.echo("incidents:")
        print_table(data["open_incidents"], ["id", "element_id", "message"])


@click.command("history")
@with_appcontext
@click.argument("instance_id", required=False)
@click.option("--business-key", "-b", help="Every event of this case.")
@click.option("--actor", help="Only events by this actor.")
@click.option("--since", type=click.DateTime(), help="From this time (UTC).")
@click.option("--until", type=click.DateTime(), help="Before this time (UTC).")
@json_option
@engine_errors
def history(
    instance_id: str | None,
    business_key: str | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """The audit history of an instance or a case."""
    if not instance_id and not business_key and not actor:
        raise click.UsageError("Give an INSTANCE_ID, --business-key or --actor")
    data = app_engine().queries.history(
        instance_id=instance_id, business_key=business_key, actor=actor, since=since, until=until
    )
    rows = [
        {
            "type": e["type"],
            "actor": e["actor"],
            "at": e["at"],
            "instance": e["instance_id"],
            "task": e["element_id"],
            "data": e["data"],
        }
        for e in data
    ]
    emit(as_json, data, rows, ["type", "actor", "at", "instance", "task", "data"])


@click.command("verify-history")
@with_appcontext
@json_option
@engine_errors
def verify_history(as_json: bool) -> None:
    """Re-hash the whole history; exit 1 and list every break if anything was altered."""
    checked, breaks = app_engine().queries.verify_history()
    if as_json:
        emit(True, {"checked": checked, "ok": not breaks, "breaks": [b.to_dict() for b in breaks]})
    elif breaks:
        click.echo(f"History BROKEN: {len(breaks)} problem(s) in {checked} events", err=True)
        for item in breaks:
            click.echo(f"  chain {item.chain} event {item.seq} (id {item.event_id}): {item.reason}", err=True)
    else:
        click.echo(f"History intact: {checked} events verified")
    if breaks:
        sys.exit(1)


def register_commands(app: Flask) -> None:
    app.cli.add_command(init_db)
    app.cli.add_command(deploy)
    app.cli.add_command(definitions)
    app.cli.add_command(start)
    app.cli.add_command(tasks)
    app.cli.add_command(complete)
    app.cli.add_command(instance)
    app.cli.add_command(history)
    app.cli.add_command(verify_history)
