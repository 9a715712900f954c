"""Repairing a stalled case from the command line: change its variables, retry its incidents.

``flask --app api set-var INSTANCE_ID --var name=value --remove name`` then
``flask --app api retry-incident INCIDENT_ID``; ``flask --app api instance ID`` lists the
incidents. Both run as the operator unless ``--as`` names a manager.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from .cli import app_actor, app_engine, emit, engine_errors, json_option, parse_var


@click.command("set-var")
@with_appcontext
@click.argument("instance_id")
@click.option("--var", "variables", multiple=True, help="name=value (JSON or text) to set; repeatable.")
@click.option("--remove", "removing", multiple=True, help="A variable to remove; repeatable.")
@click.option("--as", "actor", default=None, help="Who changes them (recorded in the history).")
@json_option
@engine_errors
def set_var(
    instance_id: str, variables: tuple[str, ...], removing: tuple[str, ...], actor: str | None, as_json: bool
) -> None:
    """Set or remove variables of a running instance, e.g. to repair a case stalled on its data."""
    setting = dict(parse_var(v) for v in variables)
    change = app_engine().runtime.change_variables(
        instance_id, app_actor(actor), setting, list(removing)
    )
    if as_json:
        emit(True, change.as_event_data())
        return
    for name, value in change.set.items():
        was = f" (was {change.previous[name]!r})" if name in change.previous else " (new)"
        click.echo(f"set {name} = {value!r}{was}")
    for name in change.removed:
        was = f"was {change.previous[name]!r}" if name in change.previous else "held only by finished steps"
        click.echo(f"removed {name} ({was})")
    for name in sorted(set(removing) - set(change.removed)):
        click.echo(f"{name} was not set: nothing to remove")
    if variables and not change.set:
        click.echo("The variables already held these values: nothing changed")


@click.command("retry-incident")
@with_appcontext
@click.argument("incident_id")
@click.option("--as", "actor", default=None, help="Who retries it (recorded in the history).")
@json_option
@engine_errors
def retry_incident(incident_id: str, actor: str | None, as_json: bool) -> None:
    """Retry the failed step of an incident; a new incident opens if it fails again."""
    engine = app_engine()
    engine.runtime.retry_incident(incident_id, app_actor(actor))
    incident = engine.queries.incident(incident_id)
    instance = engine.queries.instance(incident["instance_id"], engine.clock.now())
    again = [i for i in instance["open_incidents"] if i["task_id"] == incident["task_id"]]
    if as_json:
        emit(True, {"incident": incident, "instance_status": instance["status"], "failed_again": again})
    else:
        click.echo(f"Retried incident {incident_id}; instance {instance['id']} is {instance['status']}")
        for still in again:
            where = f"incident {still['id']} at {still['element_id']}"
            click.echo(f"Failed again: {where}: {still['message']}", err=True)
    if again:
        raise SystemExit(1)


def register_repair_commands(app: Flask) -> None:
    app.cli.add_command(set_var)
    app.cli.add_command(retry_incident)
