"""/api/v1 against a real gunicorn server: the first admin from the command line, tokens,
a designer deploying, staff working a case to its end, a browser session with CSRF, and the
OpenAPI document."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.acceptance.camunda_server import ROOT, running_server
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow

WALK_BPMN = FIXTURES / "api_walk.bpmn"
INTAKE_FORM = FIXTURES / "forms" / "intake.form"
SECRET = "a long admin secret"


def create_user(db_url: str, name: str, *roles: str) -> None:
    """``flask --app api create-user``, the password piped in as a script would."""
    command = [sys.executable, "-m", "flask", "--app", "api", "create-user", name]
    for role in roles:
        command += ["--role", role]
    result = subprocess.run(
        command,
        input=f"{SECRET}\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[str]:
    create_user(db_url, "root", "admin")
    with running_server(db_url, tmp_path / "server.log") as base:
        yield base.removesuffix("/engine-rest") + "/api/v1"


def token(api: str, name: str, password: str = SECRET) -> dict[str, str]:
    response = requests.post(
        f"{api}/tokens", json={"name": name, "password": password, "label": "acceptance"}, timeout=30
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_from_the_first_admin_to_a_finished_case(api: str) -> None:
    document = requests.get(f"{api}/openapi.json", timeout=30).json()
    assert document["openapi"] == "3.1.0" and "/api/v1/tasks/{task_id}/complete" in document["paths"]

    root = token(api, "root")
    for name, roles in (("dora", ["designer"]), ("alice", ["agent"]), ("sam", ["service_manager"])):
        created = requests.post(
            f"{api}/users", json={"name": name, "password": SECRET, "roles": roles}, headers=root, timeout=30
        )
        assert created.status_code == 201, created.text
    dora, alice, sam = token(api, "dora"), token(api, "alice"), token(api, "sam")

    files = [
        ("files", ("api_walk.bpmn", WALK_BPMN.read_bytes())),
        ("files", ("intake.form", INTAKE_FORM.read_bytes())),
    ]
    deployed = requests.post(f"{api}/deployments", files=files, headers=dora, timeout=60)
    assert deployed.status_code == 201, deployed.text
    refused = requests.post(f"{api}/deployments", files=files, headers=alice, timeout=60)
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"

    case = requests.post(
        f"{api}/instances",
        json={"process_key": "service_walk", "business_key": "ACC-1"},
        headers=alice,
        timeout=30,
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    [record] = requests.get(f"{api}/tasks", headers=alice, timeout=30).json()["items"]
    bad = requests.post(
        f"{api}/tasks/{record['id']}/complete", json={"data": {"severity": 99}}, headers=alice, timeout=30
    )
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"customer", "severity"}
    done = requests.post(
        f"{api}/tasks/{record['id']}/complete",
        json={"data": {"customer": "ACME", "severity": 3}},
        headers=alice,
        timeout=30,
    )
    assert done.status_code == 200, done.text
    [review] = done.json()["instance"]["tasks"]
    assert (
        requests.post(f"{api}/tasks/{review['id']}/complete", json={}, headers=alice, timeout=30).status_code
        == 403
    )
    assert (
        requests.post(f"{api}/tasks/{review['id']}/claim", headers=sam, timeout=30).json()["assignee"]
        == "sam"
    )
    assert (
        requests.post(f"{api}/tasks/{review['id']}/complete", json={}, headers=sam, timeout=30).status_code
        == 200
    )
    answered = requests.post(
        f"{api}/messages",
        json={"name": "customer_answer", "business_key": "ACC-1"},
        headers=alice,
        timeout=30,
    )
    assert answered.json() == {"instance_ids": [case_id]}
    assert (
        requests.get(f"{api}/instances/{case_id}", headers=alice, timeout=30).json()["status"] == "completed"
    )

    history = requests.get(f"{api}/history?business_key=ACC-1&limit=1000", headers=alice, timeout=30).json()
    actors = {(e["type"], e["actor"]) for e in history["items"]}
    assert {("instance_started", "alice"), ("task_claimed", "sam"), ("message_correlated", "alice")} <= actors
    assert requests.get(f"{api}/history/verify", headers=root, timeout=30).json()["ok"] is True


def test_a_browser_session_needs_its_csrf_token(api: str) -> None:
    browser = requests.Session()
    signed_in = browser.post(f"{api}/session", json={"name": "root", "password": SECRET}, timeout=30)
    assert signed_in.status_code == 200
    csrf = signed_in.json()["csrf_token"]
    body = {"name": "quality_inspector"}
    assert browser.post(f"{api}/roles", json=body, timeout=30).status_code == 403
    assert (
        browser.post(f"{api}/roles", json=body, headers={"X-CSRF-Token": csrf}, timeout=30).status_code == 201
    )
    assert browser.delete(f"{api}/session", headers={"X-CSRF-Token": csrf}, timeout=30).status_code == 204
    assert browser.get(f"{api}/me", timeout=30).status_code == 401
    for _ in range(3):
        requests.post(f"{api}/tokens", json={"name": "root", "password": "wrong guess"}, timeout=30)
    slowed = requests.post(f"{api}/tokens", json={"name": "root", "password": SECRET}, timeout=30)
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
