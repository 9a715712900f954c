"""``flask --app api deliver-notifications``: send what the outbox holds through the configured adapter.

The adapter comes from the environment (``CRM_SMTP_HOST`` … for e-mail; without it messages are
only marked as recorded). Run it from cron or a process manager as often as mail should go out.
"""

from __future__ import annotations

import click
from flask import Flask, current_app

from engine.engine import Engine
from handlers import notify

from .cli import engine_errors


def register_outbox_commands(app: Flask) -> None:
    @app.cli.command("deliver-notifications")
    @click.option("--limit", default=100, show_default=True, help="At most this many messages.")
    @engine_errors
    def deliver_notifications(limit: int) -> None:
        """Deliver pending customer and staff notifications."""
        engine: Engine = current_app.extensions["engine"]
        adapter = notify.adapter_from_environment()
        report = notify.deliver(engine.db, adapter, engine.clock.now(), limit)
        click.echo(
            f"Delivered {report.delivered} ({type(adapter).__name__}); "
            f"{report.retry_later} to retry; {report.failed} given up."
        )
