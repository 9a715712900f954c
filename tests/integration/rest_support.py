"""A signed-in /api/v1 for the REST tests: one user per role, each with a bearer token.

Import the ``rest`` fixture into a test module (``from tests.integration.rest_support import
rest``); it runs on SQLite and PostgreSQL through ``db_url``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api import create_app
from engine.actors import Actor
from engine.clock import ManualClock
from engine.engine import Engine
from engine.errors import BpmnErrorSignal
from engine.handler_registry import HandlerContext, HandlerRegistry
from engine.users import UserDirectory
from tests.conftest import FIXTURES, make_engine

PASSWORD = "correct horse 1"
# One person per role; the name is what the engine records as actor and assignee.
PERSONAS: dict[str, str] = {
    "agent": "alice",
    "complaint_handler": "carl",
    "dispatcher": "dan",
    "technician": "tess",
    "service_manager": "sam",
    "director": "dirk",
    "finance": "fiona",
    "account_manager": "amy",
    "designer": "dora",
    "auditor": "audrey",
    "admin": "adam",
}
# Argon2id still, with the cheapest parameters: the tests exercise the logic, not the cost.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
SERVICE_BPMN = FIXTURES / "api_service.bpmn"


class Reply:
    """A test response whose JSON body is typed as what it is: any JSON value."""

    def __init__(self, response: TestResponse) -> None:
        self.response = response
        self.status_code: int = response.status_code
        self.headers = response.headers
        self.mimetype = response.mimetype
        self.data: bytes = response.data

    @property
    def json(self) -> Any:
        return self.response.get_json(silent=True)


class Browser:
    """A client that keeps its cookies, as a browser signed in to the pages would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, **kwargs: Any) -> Reply:
        return Reply(self.client.get(path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> Reply:
        return Reply(self.client.post(path, **kwargs))

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return Reply(self.client.delete(path, **kwargs))


class Rest:
    """The app, its engine and clock, and requests made as one of the personas."""

    def __init__(self, app: Flask, engine: Engine, clock: ManualClock) -> None:
        self.app = app
        self.engine = engine
        self.clock = clock
        self.client: FlaskClient = app.test_client()
        self.users: UserDirectory = app.extensions["users"]
        self.tokens: dict[str, str] = {}

    def browser(self) -> Browser:
        return Browser(self.app.test_client())

    def add_user(self, name: str, roles: list[str]) -> str:
        self.users.create_user(Actor.operator(), name, PASSWORD, roles)
        token, _record = self.users.issue_token(name, PASSWORD, label="tests")
        self.tokens[name] = token
        return token

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def request(self, method: str, path: str, who: str | None = "alice", **kwargs: Any) -> Reply:
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return Reply(self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs))

    def get(self, path: str, who: str | None = "alice", **kwargs: Any) -> Reply:
        return self.request("GET", path, who, **kwargs)

    def post(self, path: str, who: str | None = "alice", **kwargs: Any) -> Reply:
        return self.request("POST", path, who, **kwargs)

    def patch(self, path: str, who: str | None = "adam", **kwargs: Any) -> Reply:
        return self.request("PATCH", path, who, **kwargs)

    def delete(self, path: str, who: str | None = "alice", **kwargs: Any) -> Reply:
        return self.request("DELETE", path, who, **kwargs)

    def deploy(self, *paths: Path, who: str = "dora", **fields: str) -> Reply:
        files = [(path.open("rb"), path.name) for path in paths]
        try:
            return self.post(
                "/deployments", who, data={"files": files, **fields}, content_type="multipart/form-data"
            )
        finally:
            for handle, _name in files:
                handle.close()

    def start(self, business_key: str | None = None, who: str = "alice", **variables: Any) -> dict[str, Any]:
        response = self.post(
            "/instances",
            who,
            json={"process_key": "service_call", "business_key": business_key, "variables": variables},
        )
        assert response.status_code == 201, response.json
        result: dict[str, Any] = response.json
        return result

    def open_task(self, instance_id: str, element_id: str) -> dict[str, Any]:
        tasks = [
            t for t in self.engine.queries.tasks(instance_id=instance_id) if t["element_id"] == element_id
        ]
        assert len(tasks) == 1, tasks
        return tasks[0]

    def complete_record(
        self, instance: dict[str, Any], severity: int = 3, who: str = "alice"
    ) -> Reply:
        record = self.open_task(instance["id"], "record")
        return self.post(
            f"/tasks/{record['id']}/complete", who, json={"data": {"customer": "ACME", "severity": severity}}
        )

    def to_review(self, business_key: str | None = None) -> tuple[str, dict[str, Any]]:
        """Start a service call and complete its first task: it then waits in review."""
        instance = self.start(business_key)
        done = self.complete_record(instance)
        assert done.status_code == 200, done.json
        return instance["id"], self.open_task(instance["id"], "review")


def service_handlers(handlers: HandlerRegistry) -> None:
    @handlers.handler("api_check")
    def check(ctx: HandlerContext) -> dict[str, Any]:
        severity = ctx.variables.get("severity")
        if severity == 1:
            raise RuntimeError("the customer registry is down")
        if severity == 5:
            raise BpmnErrorSignal("DECLINED", "customer declined")
        return {"checked": True}


def make_rest(db_url: str, handlers: HandlerRegistry, clock: ManualClock, **engine_config: Any) -> Rest:
    service_handlers(handlers)
    engine = make_engine(db_url, handlers, clock, handler_retries=0, **engine_config)
    app = create_app(
        {"ENGINE": engine, "TESTING": True, "SECRET_KEY": "tests", "PASSWORD_HASHER": FAST_HASHER}
    )
    harness = Rest(app, engine, clock)
    for role, name in PERSONAS.items():
        harness.add_user(name, [role])
    return harness


@pytest.fixture
def rest(db_url: str, handlers: HandlerRegistry, clock: ManualClock) -> Iterator[Rest]:
    harness = make_rest(db_url, handlers, clock)
    yield harness
    harness.engine.close()


@pytest.fixture
def deployed(rest: Rest) -> Rest:
    """The service-call process deployed."""
    response = rest.deploy(SERVICE_BPMN)
    assert response.status_code == 201, response.json
    return rest
