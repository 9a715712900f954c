"""`flask --app api load-demo-data`: what `make run` loads on an empty database, and when it refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from api import create_app
from engine.engine import Engine, EngineConfig
from engine.users import UserDirectory
from handlers import build_registry, demo_data
from handlers.records import Customer, PartStock, Technician
from tests.conftest import ROOT

ROLES = {
    "agent",
    "complaint_handler",
    "dispatcher",
    "technician",
    "service_manager",
    "director",
    "finance",
    "account_manager",
    "designer",
    "auditor",
    "admin",
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = Engine(EngineConfig(database_url=db_url, forms_dir=ROOT / "forms"), handlers=build_registry())
    yield eng
    eng.close()


def app_for(engine: Engine, database_url: str | None) -> Flask:
    # DATABASE_URL as the environment gives it: None is `make run` on its default SQLite file.
    return create_app({"ENGINE": engine, "DATABASE_URL": database_url, "SCHEDULER_ENABLED": False})


def run(app: Flask, *args: str) -> Result:
    result = app.test_cli_runner().invoke(args=["load-demo-data", *args])
    assert result.exit_code == 0, result.output
    return result


def count(engine: Engine, model: type) -> int:
    with engine.db.transaction(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_make_run_loads_the_demo_once_and_prints_every_demo_user(engine: Engine) -> None:
    app = app_for(engine, None)
    first = run(app, "--if-empty")
    assert "Demo data loaded: " in first.output and "7 customers" in first.output
    for user in demo_data.DEMO_USERS:
        assert user.name in first.output and user.password in first.output
    directory: UserDirectory = app.extensions["users"]
    account = directory.authenticate("li.na", "demo-agent")
    assert account.roles == frozenset({"agent"})
    assert {r for u in demo_data.DEMO_USERS for r in u.roles} == ROLES

    again = run(app, "--if-empty")
    assert "already holds CRM records" in again.output and "li.na" in again.output
    forced_again = run(app)  # idempotent: nothing is duplicated, nothing done in the demo is undone
    assert "nothing new" in forced_again.output
    assert count(engine, Customer) == 7


def test_a_real_database_gets_no_demo_data_unless_forced(engine: Engine, db_url: str) -> None:
    app = app_for(engine, db_url)
    refused = run(app, "--if-empty")
    assert "demo data not loaded" in refused.output
    assert count(engine, Customer) == 0
    assert app.extensions["users"].account_by_name("li.na") is None

    forced = run(app, "--force")
    assert "Demo data loaded" in forced.output
    assert count(engine, Customer) == 7


def test_the_demo_data_set_covers_what_a_newcomer_walks_through(engine: Engine) -> None:
    run(app_for(engine, None))
    with engine.db.transaction(write=False) as conn:
        tiers = {t or "none" for t in conn.execute(select(Customer.tier)).scalars()}
        cities = set(conn.execute(select(Technician.base_city)).scalars())
        low = conn.execute(
            select(func.count()).select_from(PartStock).where(PartStock.quantity <= PartStock.reorder_level)
        ).scalar_one()
        stocked = conn.execute(
            select(func.count()).select_from(PartStock).where(PartStock.quantity > 0)
        ).scalar_one()
    assert tiers == {"A", "B", "C", "none"}  # one customer without a tier is treated as C
    assert len(cities) >= 4
    assert stocked >= 20 and low >= 3  # some parts near their reorder level, for the low-stock alarm
