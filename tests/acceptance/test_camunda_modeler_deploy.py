"""Camunda Modeler's calls against a real server: connection check, deploy, start, a broken diagram."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.acceptance.camunda_server import PASSWORD, add_users, running_server
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow

PAYMENT = FIXTURES / "camunda" / "payment.bpmn"
BROKEN = FIXTURES / "camunda" / "broken.bpmn"
DESIGNER = ("dora", PASSWORD)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    add_users(db_url, {"dora": ["designer"], "alice": ["agent"]})
    with running_server(db_url, tmp_path / "server.log") as base:
        yield base


def _deploy(base: str, name: str, content: bytes, auth: tuple[str, str] = DESIGNER) -> requests.Response:
    """The request Camunda Modeler's deploy dialog sends."""
    return requests.post(
        f"{base}/deployment/create",
        data={
            "deployment-name": "payment",
            "deployment-source": "Camunda Modeler",
            "enable-duplicate-filtering": "true",
        },
        files={name: (name, content, "text/xml")},
        auth=auth,
        timeout=30,
    )


def test_a_modeler_session(server: str) -> None:
    """Check the connection, deploy a diagram with a mistake, fix it, deploy again, start an instance."""
    assert requests.get(f"{server}/version", auth=DESIGNER, timeout=10).json() == {"version": "7.22.0"}
    assert requests.get(f"{server}/deployment?maxResults=0", auth=DESIGNER, timeout=10).json() == []
    assert requests.get(f"{server}/version", timeout=10).status_code == 401

    broken = _deploy(server, "broken.bpmn", BROKEN.read_bytes())
    assert broken.status_code == 400
    problem = broken.json()
    assert problem["type"] == "ParseException"
    # Camunda Modeler recognizes a diagram the engine cannot parse by this prefix.
    assert problem["message"].startswith("ENGINE-09005 Could not parse BPMN process.")
    assert "line 8" in problem["message"]
    assert problem["details"]["broken.bpmn"]["errors"][0]["line"] == 8
    assert requests.get(f"{server}/process-definition", auth=DESIGNER, timeout=10).json() == []

    deployed = _deploy(server, "payment.bpmn", PAYMENT.read_bytes())
    assert deployed.status_code == 200, deployed.text
    body = deployed.json()
    assert body["source"] == "Camunda Modeler" and body["tenantId"] is None
    assert body["links"][0]["href"] == f"{server}/deployment/{body['id']}"
    # What Camunda Modeler reads from the answer.
    definition = next(iter(body["deployedProcessDefinitions"].values()))
    assert definition["key"] == "payment" and definition["version"] == 1

    again = _deploy(server, "payment.bpmn", PAYMENT.read_bytes())
    assert again.json()["id"] == body["id"] and again.json()["deployedProcessDefinitions"] is None

    # Modeler's "start instance", as the agent.
    started = requests.post(
        f"{server}/process-definition/{definition['id']}/start",
        json={"businessKey": "MODELER-1", "variables": {"amount": {"value": 40, "type": "Integer"}}},
        auth=("alice", PASSWORD),
        timeout=30,
    )
    assert started.status_code == 200, started.text
    assert started.json()["definitionId"] == definition["id"] and started.json()["ended"] is False

    refused = _deploy(server, "payment.bpmn", PAYMENT.read_bytes(), auth=("alice", PASSWORD))
    assert refused.status_code == 403
