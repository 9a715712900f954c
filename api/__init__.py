"""Flask application factory: the HTTP and command-line face of the engine.

Configuration is layered as in Flask's tutorial: defaults here, then ``test_config`` (tests)
or the instance folder's ``config.py``, then environment variables prefixed ``CRM_``
(``CRM_FORMS_DIR=...``); the database comes from ``DATABASE_URL``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from engine.engine import Engine, EngineConfig

from .actors import resolve_actor_by_name
from .auth import init_auth
from .camunda import init_camunda
from .cli import register_commands
from .cli_demo import register_demo_commands
from .cli_outbox import register_outbox_commands
from .cli_repair import register_repair_commands
from .cli_scheduler import register_scheduler_commands
from .cli_users import register_user_commands
from .pages import register_pages
from .problems import register_error_handlers
from .rest import register_rest_api

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev-only-change-me"),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        PROCESSES_DIR=str(ROOT / "processes"),
        FORMS_DIR=str(ROOT / "forms"),
        HANDLER_RETRIES=2,
        # Deadlines of user tasks; an empty value: only the diagrams' camunda:dueDate counts.
        SLA_POLICY_FILE=str(ROOT / "processes" / "sla.toml"),
        # Run the scheduler inside this process (make run); deployments run `flask --app api scheduler`.
        SCHEDULER_ENABLED=False,
        SCHEDULER_POLL_SECONDS=5.0,
        JSON_SORT_KEYS=False,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    app.config.from_prefixed_env("CRM")

    engine = app.config.get("ENGINE")
    if engine is None:
        engine = build_engine(app.config)
    app.extensions["engine"] = engine
    app.extensions["resolve_actor"] = resolve_actor_by_name
    init_auth(app)

    register_error_handlers(app)
    register_commands(app)
    register_user_commands(app)
    register_repair_commands(app)
    register_demo_commands(app)
    register_outbox_commands(app)
    register_scheduler_commands(app)

    from .health import bp as health_bp

    app.register_blueprint(health_bp)
    register_rest_api(app)
    init_camunda(app)
    register_pages(app)
    if app.config.get("SCHEDULER_ENABLED"):
        from engine.scheduler.service import start_background_scheduler

        poll = float(app.config.get("SCHEDULER_POLL_SECONDS", 5.0))
        app.extensions["scheduler"] = start_background_scheduler(engine, poll_seconds=poll)
    return app


def build_engine(config: Any) -> Engine:
    from handlers import build_registry
    from handlers.notify import copy_engine_notification

    engine_config = EngineConfig(
        database_url=config.get("DATABASE_URL"),
        forms_dir=Path(config["FORMS_DIR"]),
        handler_retries=int(config.get("HANDLER_RETRIES", 2)),
        sla_policies=Path(config["SLA_POLICY_FILE"]) if config.get("SLA_POLICY_FILE") else None,
    )
    engine = Engine(engine_config, handlers=build_registry())
    # SLA reminders and alarms go out with every other notification, through the CRM outbox.
    engine.alarm_raiser.hooks.append(copy_engine_notification)
    return engine
