"""``flask --app api load-demo-data``: the demo data set, for ``make run`` and newcomers.

Demo users have public passwords, so the command refuses a database named by
``DATABASE_URL`` (a real one) unless ``--force`` says so; ``make run`` passes ``--if-empty`` so
that a database people already work in is left alone.
"""

from __future__ import annotations

import click
from flask import Flask, current_app

from engine.engine import Engine
from handlers import demo_data
from handlers.dates import local_day

from .cli import engine_errors, print_table


def _print_users() -> None:
    click.echo("Demo users (password in the second column):")
    print_table(
        [{"user": u.name, "password": u.password, "roles": ", ".join(u.roles)} for u in demo_data.DEMO_USERS],
        ["user", "password", "roles"],
    )


def register_demo_commands(app: Flask) -> None:
    @app.cli.command("load-demo-data")
    @click.option("--if-empty", is_flag=True, help="Only if the database holds no CRM records yet.")
    @click.option("--force", is_flag=True, help="Also into the database DATABASE_URL names.")
    @engine_errors
    def load_demo_data(if_empty: bool, force: bool) -> None:
        """Load demo customers, technicians, parts, fee standards, agreements and users."""
        if current_app.config.get("DATABASE_URL") and not force:
            click.echo("DATABASE_URL names a real database: demo data not loaded (--force loads it anyway).")
            return
        engine: Engine = current_app.extensions["engine"]
        if if_empty and demo_data.has_crm_records(engine.db):
            click.echo("The database already holds CRM records: demo data not loaded again.")
            _print_users()
            return
        now = engine.clock.now()
        report = demo_data.load(engine.db, current_app.extensions.get("users"), local_day(now), now)
        counts = sorted(report.added.items())
        added = ", ".join(f"{count} {table.removeprefix('crm_')}" for table, count in counts)
        click.echo(f"Demo data loaded: {added or 'nothing new'}; users created: {len(report.users_added)}.")
        _print_users()
