"""A signed-in /engine-rest for the Camunda API tests: one user per role, Basic or bearer auth.

Import the fixtures into a test module (``from tests.integration.camunda_support import
camunda_fixture``: the fixture is then ``camunda``; likewise ``deployed``); they run on SQLite
and PostgreSQL through ``db_url``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers
from werkzeug.test import TestResponse

from api import create_app
from engine.actors import Actor
from engine.clock import ManualClock
from engine.engine import Engine
from engine.handler_registry import HandlerRegistry
from engine.users import UserDirectory
from tests.conftest import FIXTURES, make_engine

PASSWORD = "correct horse 1"
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
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
CAMUNDA_FIXTURES = FIXTURES / "camunda"
PAYMENT = CAMUNDA_FIXTURES / "payment.bpmn"
BROKEN = CAMUNDA_FIXTURES / "broken.bpmn"
TOPIC = "payment-transfer"


def basic(name: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Answer:
    """A response, its JSON body typed as what it is: any JSON."""

    status_code: int
    json: Any
    headers: Headers
    data: bytes

    @classmethod
    def of(cls, response: TestResponse) -> Answer:
        return cls(response.status_code, response.get_json(silent=True), response.headers, response.data)


class Camunda:
    """The app and requests to /engine-rest made as one of the personas (HTTP Basic by default)."""

    def __init__(self, app: Flask, engine: Engine, clock: ManualClock) -> None:
        self.app = app
        self.engine = engine
        self.clock = clock
        self.client: FlaskClient = app.test_client()
        self.users: UserDirectory = app.extensions["users"]
        self.tokens: dict[str, str] = {}
        self.engine_operator = Actor.operator("operator")

    def add_user(self, name: str, roles: list[str]) -> None:
        self.users.create_user(Actor.operator(), name, PASSWORD, roles)

    def token(self, name: str) -> str:
        if name not in self.tokens:
            self.tokens[name], _record = self.users.issue_token(name, PASSWORD, label="tests")
        return self.tokens[name]

    def request(self, method: str, path: str, who: str | None = "alice", **kwargs: Any) -> Answer:
        headers = {**(basic(who) if who else {}), **kwargs.pop("headers", {})}
        return Answer.of(self.client.open(f"/engine-rest{path}", method=method, headers=headers, **kwargs))

    def get(self, path: str, who: str | None = "alice", **kwargs: Any) -> Answer:
        return self.request("GET", path, who, **kwargs)

    def post(self, path: str, who: str | None = "alice", **kwargs: Any) -> Answer:
        return self.request("POST", path, who, **kwargs)

    def deploy(self, *files: tuple[str, bytes], who: str = "dora", **fields: str) -> Answer:
        """A deployment as Camunda Modeler sends it: each file a part named after the file."""
        data: dict[str, Any] = {
            "deployment-name": "diagram",
            "deployment-source": "Camunda Modeler",
            **fields,
        }
        for name, content in files:
            data[name] = (_stream(content), name, "text/xml")
        return self.post("/deployment/create", who, data=data, content_type="multipart/form-data")

    def deploy_payment(self) -> dict[str, Any]:
        response = self.deploy(
            ("payment.bpmn", PAYMENT.read_bytes()), **{"enable-duplicate-filtering": "true"}
        )
        assert response.status_code == 200, response.json
        body: dict[str, Any] = response.json
        return body

    def start(self, business_key: str | None = None, who: str = "alice", **variables: Any) -> str:
        typed = {name: {"value": value} for name, value in variables.items()}
        response = self.post(
            "/process-definition/key/payment/start",
            who,
            json={"businessKey": business_key, "variables": typed},
        )
        assert response.status_code == 200, response.json
        return str(response.json["id"])

    def fetch(self, worker: str = "w1", who: str = "alice", **body: Any) -> list[dict[str, Any]]:
        request = {
            "workerId": worker,
            "maxTasks": 10,
            "topics": [{"topicName": TOPIC, "lockDuration": 60000}],
        }
        response = self.post("/external-task/fetchAndLock", who, json={**request, **body})
        assert response.status_code == 200, response.json
        found: list[dict[str, Any]] = response.json
        return found

    def open_tasks(self, instance_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/task?processInstanceId={instance_id}")
        assert response.status_code == 200, response.json
        found: list[dict[str, Any]] = response.json
        return found

    def to_confirm(self, business_key: str | None = None, **variables: Any) -> tuple[str, dict[str, Any]]:
        """A payment whose transfer is done: it waits in the agents' "confirm" task."""
        instance_id = self.start(business_key, **variables)
        [locked] = [t for t in self.fetch() if t["processInstanceId"] == instance_id]
        done = self.post(f"/external-task/{locked['id']}/complete", json={"workerId": "w1"})
        assert done.status_code == 204, done.json
        [task] = self.open_tasks(instance_id)
        assert task["taskDefinitionKey"] == "confirm"
        return instance_id, task


def _stream(content: bytes) -> Any:
    return io.BytesIO(content)


@pytest.fixture(name="camunda")
def camunda_fixture(db_url: str, clock: ManualClock) -> Iterator[Camunda]:
    engine = make_engine(db_url, HandlerRegistry(), clock)
    app = create_app(
        {
            "ENGINE": engine,
            "TESTING": True,
            "SECRET_KEY": "tests",
            "PASSWORD_HASHER": FAST_HASHER,
            "EXTERNAL_TASK_POLL_SECONDS": 0.05,
        }
    )
    harness = Camunda(app, engine, clock)
    for role, name in PERSONAS.items():
        harness.add_user(name, [role])
    yield harness
    engine.close()


@pytest.fixture(name="deployed")
def deployed_fixture(camunda: Camunda) -> Camunda:
    camunda.deploy_payment()
    return camunda
