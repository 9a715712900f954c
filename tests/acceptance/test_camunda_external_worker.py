"""The published Camunda 7 external-task client works service tasks on a real server.

``camunda-external-task-client-python3`` fetches and locks (long polling), runs the handler,
and answers: a completion moves the payment on, a BPMN error takes the diagram's error
boundary path, a failure with no retries left becomes an incident.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from engine.handler_registry import HandlerRegistry
from tests.acceptance.camunda_server import PASSWORD, add_users, running_server
from tests.conftest import FIXTURES, make_engine

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the client uses pydantic's deprecated validators
    from camunda.external_task.external_task import ExternalTask, TaskResult
    from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound

pytestmark = pytest.mark.slow

TOPIC = "payment-transfer"
WORKER = ("bank-gateway", PASSWORD)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    add_users(db_url, {"dora": ["designer"], "alice": ["agent"], "bank-gateway": ["finance"]})
    with running_server(db_url, tmp_path / "server.log") as base:
        content = (FIXTURES / "camunda" / "payment.bpmn").read_bytes()
        deployed = requests.post(
            f"{base}/deployment/create",
            data={"deployment-name": "payment", "deployment-source": "Camunda Modeler"},
            files={"payment.bpmn": ("payment.bpmn", content, "text/xml")},
            auth=("dora", PASSWORD),
            timeout=30,
        )
        assert deployed.status_code == 200, deployed.text
        yield base


def _start(base: str, business_key: str, amount: int) -> str:
    response = requests.post(
        f"{base}/process-definition/key/payment/start",
        json={"businessKey": business_key, "variables": {"amount": {"value": amount, "type": "Integer"}}},
        auth=("alice", PASSWORD),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _worker(base: str, **config: Any) -> ExternalTaskWorker:
    settings = {
        "auth_basic": {"username": WORKER[0], "password": WORKER[1]},
        "maxTasks": 1,
        "lockDuration": 30000,
        "asyncResponseTimeout": 5000,
        "retries": 3,
        "retryTimeout": 1000,
        "sleepSeconds": 0,
        **config,
    }
    return ExternalTaskWorker(worker_id="bank-gateway-1", base_url=base, config=settings)


def transfer(task: ExternalTask) -> TaskResult:
    """The bank gateway: small amounts go through, large ones are declined, 13 breaks it."""
    amount = task.get_variable("amount")
    if amount == 13:
        return task.failure(
            "bank gateway crashed", "Traceback: unlucky number", max_retries=0, retry_timeout=0
        )
    if amount > 1000:
        return task.bpmn_error("DECLINED", "over the daily limit", {"decline_reason": "limit"})
    return task.complete({"transfer_ref": f"TX-{task.get_business_key()}"})


def _open_tasks(base: str, instance_id: str) -> list[str]:
    response = requests.get(
        f"{base}/task?processInstanceId={instance_id}", auth=("alice", PASSWORD), timeout=30
    )
    return [t["taskDefinitionKey"] for t in response.json()]


def test_the_published_client_completes_and_raises_bpmn_errors(server: str, db_url: str) -> None:
    small = _start(server, "PAY-1", 250)
    large = _start(server, "PAY-2", 5000)
    unlucky = _start(server, "PAY-3", 13)
    worker = _worker(server)
    for _ in range(3):
        worker.fetch_and_execute(TOPIC, transfer)
    with pytest.raises(NoExternalTaskFound):
        _worker(server, asyncResponseTimeout=500).fetch_and_execute(TOPIC, transfer)

    assert _open_tasks(server, small) == ["confirm"]
    assert _open_tasks(server, large) == ["review"]  # the error boundary path
    assert _open_tasks(server, unlucky) == []

    engine = make_engine(db_url, HandlerRegistry())
    try:
        assert engine.queries.instance(small)["variables"]["transfer_ref"] == "TX-PAY-1"
        assert engine.queries.instance(large)["variables"]["decline_reason"] == "limit"
        [incident] = engine.queries.incidents(instance_id=unlucky)
        assert incident["message"] == "bank gateway crashed" and incident["element_id"] == "charge"
        history = engine.queries.history(instance_id=large)
        assert any(e["type"] == "bpmn_error" and e["data"]["code"] == "DECLINED" for e in history)
    finally:
        engine.close()
    activities = requests.get(
        f"{server}/history/activity-instance?processInstanceId={large}", auth=("alice", PASSWORD), timeout=30
    ).json()
    assert "boundaryError" in {a["activityType"] for a in activities}


def test_a_long_poll_returns_when_work_arrives(server: str) -> None:
    worker = _worker(server, asyncResponseTimeout=20000)
    outcome: dict[str, Any] = {}

    def poll() -> None:
        began = time.monotonic()
        worker.fetch_and_execute(TOPIC, transfer)
        outcome["waited"] = time.monotonic() - began

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(1.0)  # the worker is waiting on the server now
    instance_id = _start(server, "PAY-LATE", 75)
    thread.join(30)
    assert not thread.is_alive()
    assert 0.9 < outcome["waited"] < 10
    assert _open_tasks(server, instance_id) == ["confirm"]
