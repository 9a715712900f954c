"""The Alembic migrations produce exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.db import Base, Database
from engine.schema import load_all_models, upgrade


def test_migrations_match_models(db_url: str) -> None:
    load_all_models()
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == [], f"models and migrations differ: {differences}"
    finally:
        db.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db)  # already at head: nothing to do, no error
    finally:
        db.dispose()
