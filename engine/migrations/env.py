"""Alembic environment: the engine's and the CRM's tables share one metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from engine.db import Base, Database
from engine.schema import load_all_models

load_all_models(context.config)
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or None
    database = Database(url)
    with database.engine.connect() as conn:
        _run(conn)
    database.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run them against a database")
run_migrations_online()
