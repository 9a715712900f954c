"""Scheduler and alarm commands: ``flask --app api scheduler | alarms | acknowledge | deadline | …``.

``scheduler`` runs the scheduler as this process's only work (deployments run one or more of
these beside the web processes, all against one PostgreSQL); ``make run`` runs it inside the web
process instead (``CRM_SCHEDULER_ENABLED=true``).
"""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from engine.scheduler.alarm_book import STAGES
from engine.scheduler.service import DEFAULT_POLL_SECONDS, run_until_stopped

from .cli import app_actor, app_engine, emit, engine_errors, json_option

ALARM_COLUMNS = ["id", "stage", "task_name", "business_key", "role", "notified", "due_at", "raised_at"]


@click.command("scheduler")
@with_appcontext
@click.option(
    "--poll", "poll_seconds", type=float, default=DEFAULT_POLL_SECONDS, show_default=True,
    help="Safety poll in seconds; due times are normally met exactly, woken by the database.",
)
@click.option("--owner", help="Name this scheduler holds its leases under (default: host:pid:random).")
@click.option("--batch", default=500, show_default=True, help="Due rows claimed at a time.")
@click.option("--quiet", is_flag=True, help="Log only problems, not each wake-up that fired something.")
def scheduler(poll_seconds: float, owner: str | None, batch: int, quiet: bool) -> None:
    """Run the scheduler until SIGINT or SIGTERM: deadlines, reminders, alarms, BPMN timers."""
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    engine = app_engine()
    engine.due.batch = batch
    background = current_app.extensions.pop("scheduler", None)
    if background is not None:
        background.shutdown()  # CRM_SCHEDULER_ENABLED was set too: run one scheduler, this one
    url = engine.db.engine.url.render_as_string(hide_password=True)
    click.echo(f"Scheduler running against {url}; stop with Ctrl-C or SIGTERM", err=True)
    run_until_stopped(engine, poll_seconds=poll_seconds, owner=owner)
    click.echo("Scheduler stopped", err=True)


@click.command("alarms")
@with_appcontext
@click.option("--open", "open_only", is_flag=True, help="Only alarms nobody has acknowledged.")
@click.option("--stage", type=click.Choice(STAGES), help="Only this stage.")
@click.option("--role", help="Alarms of tasks of this role, or escalated to it.")
@click.option("--instance", "instance_id", help="Alarms of this case.")
@click.option("--limit", default=100, show_default=True, help="At most this many (newest first).")
@json_option
@engine_errors
def alarms(
    open_only: bool, stage: str | None, role: str | None, instance_id: str | None, limit: int, as_json: bool
) -> None:
    """List SLA alarms (reminders, warnings, breaches, escalations), newest first."""
    data = app_engine().alarms.alarms(
        open_only=open_only, stage=stage, role=role, instance_id=instance_id, limit=limit
    )
    emit(as_json, data, columns=[*ALARM_COLUMNS, "acknowledged_by"])


@click.command("acknowledge")
@with_appcontext
@click.argument("alarm_id", type=int)
@click.option("--as", "actor", default=None, help="Who acknowledges it (recorded in the history).")
@click.option("--note", help="A word on what is being done about it.")
@json_option
@engine_errors
def acknowledge(alarm_id: int, actor: str | None, note: str | None, as_json: bool) -> None:
    """Acknowledge an alarm: someone has taken notice (once; it stays in the history)."""
    alarm = app_engine().alarms.acknowledge(alarm_id, app_actor(actor), note)
    if as_json:
        emit(True, alarm)
    else:
        click.echo(f"Alarm {alarm_id} ({alarm['stage']}) acknowledged by {alarm['acknowledged_by']}")


@click.command("deadline")
@with_appcontext
@click.argument("task_id")
@json_option
@engine_errors
def deadline(task_id: str, as_json: bool) -> None:
    """Show a task's deadline, the working time left, pauses and every stage."""
    data = app_engine().alarms.deadline(task_id)
    if as_json:
        emit(True, data)
        return
    for field in ("state", "policy", "tier", "deadline_at", "seconds_until_deadline", "working_seconds_left"):
        click.echo(f"{field:23} {data.get(field)}")
    emit(False, data["stages"], columns=["stage", "at", "alarm_id", "raised_at"])


@click.command("pause-deadline")
@with_appcontext
@click.argument("task_id", required=False)
@click.option("--instance", "instance_id", help="Pause every open task's deadline of this case.")
@click.option("--as", "actor", default=None, help="Who pauses it (recorded in the history).")
@click.option("--note", help="Why, e.g. what the case waits for.")
@engine_errors
def pause_deadline(task_id: str | None, instance_id: str | None, actor: str | None, note: str | None) -> None:
    """Stop a deadline's clock (a task, or a whole case with --instance) until resumed."""
    paused = app_engine().sla.pause(app_actor(actor), task_id=task_id, instance_id=instance_id, note=note)
    click.echo(f"Paused the deadline of {len(paused)} task(s)")


@click.command("resume-deadline")
@with_appcontext
@click.argument("task_id", required=False)
@click.option("--instance", "instance_id", help="Resume every paused deadline of this case.")
@click.option("--as", "actor", default=None, help="Who resumes it (recorded in the history).")
@engine_errors
def resume_deadline(task_id: str | None, instance_id: str | None, actor: str | None) -> None:
    """Start a paused deadline's clock again; stages not yet raised move later by the time paused."""
    resumed = app_engine().sla.resume(app_actor(actor), task_id=task_id, instance_id=instance_id)
    for task, clock in resumed.items():
        click.echo(f"{task}: due {clock.deadline.isoformat()}")


def register_scheduler_commands(app: Flask) -> None:
    for command in (scheduler, alarms, acknowledge, deadline, pause_deadline, resume_deadline):
        app.cli.add_command(command)
