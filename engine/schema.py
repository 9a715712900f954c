"""Creating and migrating the schema (Alembic), for the CLI, `make run` and tests."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config

from .db import Database

ROOT = Path(__file__).resolve().parent.parent


def load_all_models(config: Config | None = None) -> None:
    """Import every module whose tables share the metadata.

    The list lives in alembic.ini (``model_modules``) so that the engine names no CRM code.
    """
    config = config or Config(str(ROOT / "alembic.ini"))
    names = (config.get_main_option("model_modules") or "engine.models").split()
    for name in names:
        importlib.import_module(name)


def alembic_config(db: Database) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "engine" / "migrations"))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to the latest schema (creates it on an empty database)."""
    config = alembic_config(db)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
