"""Shared fixtures: an engine on SQLite (always) and on PostgreSQL (when reachable; required in CI).

Integration tests take the ``db_url`` fixture, which is parametrized over both stores, so the
same suite runs on each. Every PostgreSQL test gets a fresh database cloned from a migrated
template (fast, and isolated like SQLite's temporary files).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine.actors import Actor
from engine.clock import ManualClock
from engine.db import Database
from engine.engine import Engine, EngineConfig
from engine.handler_registry import HandlerRegistry
from engine.schema import upgrade

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


PG_AVAILABLE = _pg_available()


def _pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; tests clone it."""
    if not PG_AVAILABLE:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable (set TEST_PG_ADMIN_URL); runs in CI")
    name = f"crm_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(_pg_url(name))
    upgrade(db)
    db.dispose()
    yield name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_pg_database(template: str) -> str:
    name = f"crm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'engine.sqlite3'}"
        db = Database(url)
        upgrade(db)
        db.dispose()
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = fresh_pg_database(template)
    try:
        yield _pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'engine.sqlite3'}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def handlers() -> HandlerRegistry:
    return HandlerRegistry()


@pytest.fixture
def operator() -> Actor:
    return Actor.operator("operator")


def make_engine(
    url: str, handlers: HandlerRegistry, clock: ManualClock | None = None, **config: object
) -> Engine:
    settings = EngineConfig(database_url=url, forms_dir=FIXTURES / "forms", **config)  # type: ignore[arg-type]
    return Engine(settings, handlers=handlers, clock=clock)


@pytest.fixture
def engine(db_url: str, handlers: HandlerRegistry, clock: ManualClock) -> Iterator[Engine]:
    eng = make_engine(db_url, handlers, clock)
    yield eng
    eng.close()
