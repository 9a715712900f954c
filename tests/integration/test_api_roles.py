"""Every role's permitted and refused actions over HTTP: who deploys, starts, works on which
task, manages cases, administers people and audits (DESIGN decision 6)."""

from __future__ import annotations

import pytest

from tests.integration.rest_support import PERSONAS, SERVICE_BPMN, Rest, deployed, rest

__all__ = ["deployed", "rest"]

ALL = frozenset(PERSONAS)
CASE_MANAGERS = {"service_manager", "director", "admin"}
AUDIT = {"auditor", "admin"}

# action → the roles that may do it; every other role is refused with 403.
ALLOWED: dict[str, set[str]] = {
    "deploy": {"designer"},
    "start": set(ALL - {"auditor"}),
    "complete_agent_task": {"agent"},
    "claim_manager_task": {"service_manager"},
    "assign_task": CASE_MANAGERS,
    "cancel": CASE_MANAGERS,
    "suspend": CASE_MANAGERS,
    "retry_incident": CASE_MANAGERS,
    "correlate": set(ALL - {"auditor"}),
    "create_user": {"admin"},
    "create_role": {"admin"},
    "list_users": AUDIT,
    "search_history": AUDIT,
    "verify_history": AUDIT,
    "read_case": set(ALL),
}


def _status(allowed: bool, ok: int) -> int:
    return ok if allowed else 403


@pytest.mark.parametrize("role", sorted(PERSONAS))
def test_role_matrix(deployed: Rest, role: str) -> None:
    rest = deployed
    who = PERSONAS[role]
    results: dict[str, tuple[int, int]] = {}

    def check(action: str, status: int, ok: int) -> None:
        results[action] = (status, _status(role in ALLOWED[action], ok))

    check("deploy", rest.deploy(SERVICE_BPMN, who=who, changed_only="false").status_code, 201)
    check(
        "start",
        rest.post(
            "/instances", who, json={"process_key": "service_call", "business_key": f"B-{role}"}
        ).status_code,
        201,
    )
    case = rest.start(f"C-{role}")
    record = rest.open_task(case["id"], "record")
    check("complete_agent_task", rest.complete_record(case, who=who).status_code, 200)

    _, review = rest.to_review(f"R-{role}")
    check("claim_manager_task", rest.post(f"/tasks/{review['id']}/claim", who).status_code, 200)
    other_case = rest.start(f"A-{role}")
    other = rest.open_task(other_case["id"], "record")
    check(
        "assign_task",
        rest.post(f"/tasks/{other['id']}/assign", who, json={"assignee": "alice"}).status_code,
        200,
    )

    check("cancel", rest.post(f"/instances/{rest.start()['id']}/cancel", who, json={}).status_code, 200)
    check("suspend", rest.post(f"/instances/{rest.start()['id']}/suspend", who).status_code, 200)

    failing = rest.start(f"F-{role}")
    assert rest.complete_record(failing, severity=1).status_code == 200
    incident = rest.get(f"/incidents?instance_id={failing['id']}").json["items"][0]
    check("retry_incident", rest.post(f"/incidents/{incident['id']}/retry", who).status_code, 200)

    _, waiting = rest.to_review(f"M-{role}")
    assert rest.post(f"/tasks/{waiting['id']}/complete", "sam", json={"data": {}}).status_code == 200
    answer = {"name": "customer_answer", "business_key": f"M-{role}"}
    check("correlate", rest.post("/messages", who, json=answer).status_code, 200)
    check(
        "create_user",
        rest.post(
            "/users", who, json={"name": f"new-{role}", "password": "long enough", "roles": []}
        ).status_code,
        201,
    )
    check("create_role", rest.post("/roles", who, json={"name": f"lane_{role}"}).status_code, 201)
    check("list_users", rest.get("/users", who).status_code, 200)
    check("search_history", rest.get("/history?actor=alice", who).status_code, 200)
    check("verify_history", rest.get("/history/verify", who).status_code, 200)
    check("read_case", rest.get(f"/instances/{record['instance_id']}", who).status_code, 200)

    wrong = {action: got for action, (got, expected) in results.items() if got != expected}
    assert not wrong, f"{role}: unexpected statuses {wrong} (expected {ALLOWED})"
    assert set(results) == set(ALLOWED)
