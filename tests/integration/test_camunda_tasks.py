"""/engine-rest/task: the task list queries Camunda clients make, and claiming and completing by role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.camunda_support import (
    Camunda,
    camunda_fixture,  # noqa: F401  (the "camunda" fixture)
    deployed_fixture,  # noqa: F401  (the "deployed" fixture)
)

TASK_MEMBERS = {
    "id",
    "name",
    "assignee",
    "owner",
    "created",
    "lastUpdated",
    "due",
    "followUp",
    "delegationState",
    "description",
    "executionId",
    "parentTaskId",
    "priority",
    "processDefinitionId",
    "processInstanceId",
    "caseExecutionId",
    "caseDefinitionId",
    "caseInstanceId",
    "taskDefinitionKey",
    "suspended",
    "formKey",
    "camundaFormRef",
    "tenantId",
    "taskState",
}


def _two_confirmations(camunda: Camunda) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two payments waiting in "confirm": the first created at 09:00 (due 13:00), the second an hour later."""
    _, first = camunda.to_confirm("CASE-1")
    camunda.clock.advance(timedelta(hours=1))
    _, second = camunda.to_confirm("CASE-2")
    return first, second


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.json
    return [t["id"] for t in response.json]


def test_a_task_as_camunda_shows_it(deployed: Camunda) -> None:
    instance_id, task = deployed.to_confirm("CASE-1")
    assert set(task) == TASK_MEMBERS
    assert task["name"] == "Confirm payment to customer"
    assert task["description"] == "Call the customer and confirm the transfer."
    assert task["processInstanceId"] == instance_id == task["executionId"]
    assert task["priority"] == 70 and task["assignee"] is None and task["suspended"] is False
    assert task["created"] == "2026-01-05T09:00:00.000+0000"
    assert task["due"] == "2026-01-05T13:00:00.000+0000"
    assert task["caseInstanceId"] is None and task["tenantId"] is None and task["followUp"] is None
    assert task["formKey"] is None  # a generated form (camunda:formData), as in Camunda
    assert deployed.get(f"/task/{task['id']}").json == task
    missing = deployed.get("/task/no-such-task")
    assert missing.status_code == 404 and missing.json["message"] == "No matching task with id no-such-task"


def test_task_filters(deployed: Camunda) -> None:
    first, second = _two_confirmations(deployed)
    both = {first["id"], second["id"]}
    assert set(_ids(deployed.get("/task?candidateGroup=agent"))) == both
    assert _ids(deployed.get("/task?candidateGroup=finance")) == []
    assert set(_ids(deployed.get("/task?candidateGroups=finance,agent"))) == both
    assert _ids(deployed.get(f"/task?processInstanceId={first['processInstanceId']}")) == [first["id"]]
    assert _ids(deployed.get("/task?processInstanceBusinessKey=CASE-2")) == [second["id"]]
    assert set(_ids(deployed.get("/task?taskDefinitionKey=confirm&processDefinitionKey=payment"))) == both
    assert _ids(deployed.get("/task?taskDefinitionKeyIn=review")) == []
    assert _ids(deployed.get("/task", query_string={"dueBefore": "2026-01-05T13:30:00.000+0000"})) == [
        first["id"]
    ]
    assert _ids(deployed.get("/task", query_string={"dueAfter": "2026-01-05T13:30:00.000+02:00"})) == [
        first["id"],
        second["id"],
    ]
    assert _ids(deployed.get("/task", query_string={"createdAfter": "2026-01-05T09:30:00Z"})) == [
        second["id"]
    ]
    assert set(_ids(deployed.get("/task?minPriority=70&maxPriority=70"))) == both
    assert _ids(deployed.get("/task?nameLike=Confirm&priority=10")) == []
    assert deployed.post(f"/task/{first['id']}/claim", json={"userId": "alice"}).status_code == 204
    assert _ids(deployed.get("/task?assignee=alice")) == [first["id"]]
    assert _ids(deployed.get("/task?unassigned=true")) == [second["id"]]
    assert _ids(deployed.get("/task?assigned=true")) == [first["id"]]
    # A candidate query, as in Camunda, leaves out tasks someone has taken unless asked.
    assert _ids(deployed.get("/task?candidateGroup=agent")) == [second["id"]]
    assert set(_ids(deployed.get("/task?candidateGroup=agent&includeAssignedTasks=true"))) == both
    deployed.engine.runtime.suspend(second["processInstanceId"], deployed.engine_operator)
    assert _ids(deployed.get("/task?suspended=true")) == [second["id"]]
    assert _ids(deployed.get("/task?active=true")) == [first["id"]]
    assert deployed.get(f"/task/{second['id']}").json["suspended"] is True


def test_sorting_paging_and_counting(deployed: Camunda) -> None:
    first, second = _two_confirmations(deployed)
    assert _ids(deployed.get("/task?sortBy=created&sortOrder=desc")) == [second["id"], first["id"]]
    assert _ids(deployed.get("/task?sortBy=dueDate&sortOrder=asc")) == [first["id"], second["id"]]
    assert _ids(deployed.get("/task?sortBy=created&sortOrder=asc&firstResult=1&maxResults=5")) == [
        second["id"]
    ]
    assert _ids(deployed.get("/task?maxResults=0")) == []
    assert deployed.get("/task/count?candidateGroup=agent").json == {"count": 2}
    assert deployed.get("/task/count?processInstanceBusinessKey=CASE-1").json == {"count": 1}
    posted = deployed.post(
        "/task?firstResult=0&maxResults=1",
        json={"candidateGroup": "agent", "sorting": [{"sortBy": "created", "sortOrder": "desc"}]},
    )
    assert _ids(posted) == [second["id"]]
    listed = deployed.post("/task", json={"processInstanceIdIn": [first["processInstanceId"]]})
    assert _ids(listed) == [first["id"]]
    assert deployed.post("/task/count", json={"taskDefinitionKey": "confirm"}).json == {"count": 2}


BAD_QUERIES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "sortBy=due&sortOrder=asc", None, "sortBy"),
    ("GET", "sortOrder=asc", None, "sortBy and sortOrder required"),
    ("GET", "assigned=perhaps", None, "assigned"),
    ("GET", "priority=high", None, "priority"),
    ("GET", "dueBefore=tomorrow", None, "dueBefore"),
    # Valid dates whose UTC time falls outside the years 1-9999.
    ("GET", "dueBefore=0001-01-01T00:00:00.000%2B0100", None, "dueBefore"),
    ("GET", "dueAfter=9999-12-31T23:59:59.000-0100", None, "dueAfter"),
    ("POST", "", {"dueBefore": "0001-01-01T00:30:00.000+0100"}, "dueBefore"),
    ("GET", "tenantIdIn=acme", None, "Unsupported query parameter 'tenantIdIn'"),
    ("POST", "", {"sorting": [{"sortBy": "created"}]}, "sortOrder"),
    ("POST", "", {"processInstanceIdIn": "x", "colour": "red"}, "Unsupported property 'colour'"),
    ("POST", "", {"candidateGroups": [1, 2]}, "candidateGroups"),
    ("POST", "sortBy=created", {}, "Unsupported query parameter 'sortBy'"),
]


def test_bad_task_queries_get_400(deployed: Camunda) -> None:
    for method, query, body, fragment in BAD_QUERIES:
        response = deployed.request(method, f"/task?{query}", json=body)
        assert response.status_code == 400, (method, query, body)
        assert response.json["type"] == "InvalidRequestException"
        assert fragment in response.json["message"], (query, body, response.json)


def test_claim_and_unclaim_by_role(deployed: Camunda) -> None:
    deployed.add_user("alan", ["agent"])
    _, task = deployed.to_confirm()
    path = f"/task/{task['id']}"
    for outsider in ("tess", "fiona", "audrey"):
        refused = deployed.post(f"{path}/claim", outsider, json={"userId": outsider})
        assert refused.status_code == 403 and refused.json["type"] == "AuthorizationException", outsider
    assert deployed.post(f"{path}/claim", "alice", json={"userId": "alice"}).status_code == 204
    assert deployed.get(path).json["assignee"] == "alice"
    taken = deployed.post(f"{path}/claim", "alan", json={"userId": "alan"})
    assert taken.status_code == 409 and "already claimed" in taken.json["message"]
    assert deployed.post(f"{path}/unclaim", "alan").status_code == 409
    assert deployed.post(f"{path}/unclaim", "alice").status_code == 204
    assert deployed.get(path).json["assignee"] is None
    # Claiming for someone else is assigning: a service manager may, an agent may not.
    assert deployed.post(f"{path}/claim", "alice", json={"userId": "alan"}).status_code == 403
    ghost = deployed.post(f"{path}/claim", "sam", json={"userId": "ghost"})
    assert ghost.status_code == 400 and ghost.json["type"] == "InvalidRequestException"
    assert "ghost" in ghost.json["message"]
    assert deployed.get(path).json["assignee"] is None  # not handed to a user nobody can log in as
    assert deployed.post(f"{path}/claim", "sam", json={"userId": "alan"}).status_code == 204
    assert deployed.get(path).json["assignee"] == "alan"
    missing_user = deployed.post(f"{path}/claim", "alice", json={})
    assert missing_user.status_code == 400 and "userId" in missing_user.json["message"]
    assert deployed.post("/task/no-such-task/claim", "alice", json={"userId": "alice"}).status_code == 404


def test_complete_by_assignee_or_lane_member_with_form_checks(deployed: Camunda) -> None:
    deployed.add_user("alan", ["agent"])
    instance_id, task = deployed.to_confirm()
    path = f"/task/{task['id']}"
    minutes = {"minutes": {"value": 4, "type": "Long"}}
    assert deployed.post(f"{path}/complete", "fiona", json={"variables": minutes}).status_code == 403
    assert deployed.post(f"{path}/claim", "alice", json={"userId": "alice"}).status_code == 204
    not_yours = deployed.post(f"{path}/complete", "alan", json={"variables": minutes})
    assert not_yours.status_code == 403 and "assigned to alice" in not_yours.json["message"]
    invalid = deployed.post(f"{path}/submit-form", "alice", json={"variables": {"minutes": {"value": -3}}})
    assert invalid.status_code == 400
    assert "minutes" in invalid.json["message"] and "at least 0" in invalid.json["message"]
    missing = deployed.post(f"{path}/complete", "alice", json={"variables": {}})
    assert missing.status_code == 400 and "minutes" in missing.json["message"]
    assert deployed.get(path).status_code == 200  # still open: nothing was applied
    done = deployed.post(
        f"{path}/complete",
        "alice",
        json={"variables": {**minutes, "reached": {"value": True}}, "withVariablesInReturn": True},
    )
    assert done.status_code == 200, done.json
    assert done.json["minutes"] == {"type": "Integer", "value": 4, "valueInfo": {}}
    assert done.json["reached"]["value"] is True
    assert deployed.get(path).status_code == 404
    again = deployed.post(f"{path}/complete", "alice", json={"variables": minutes})
    assert again.status_code == 404
    assert deployed.get(f"/history/process-instance/{instance_id}").json["state"] == "COMPLETED"


def test_an_unclaimed_task_is_completed_by_any_member_of_its_role(deployed: Camunda) -> None:
    _, task = deployed.to_confirm()
    submitted = deployed.post(
        f"/task/{task['id']}/submit-form", "alice", json={"variables": {"minutes": {"value": 1}}}
    )
    assert submitted.status_code == 204
    assert submitted.data == b""


def test_an_auditor_reads_tasks_but_changes_nothing(deployed: Camunda) -> None:
    _, task = deployed.to_confirm()
    assert _ids(deployed.get("/task", "audrey")) == [task["id"]]
    assert deployed.get(f"/task/{task['id']}", "audrey").status_code == 200
    body = {"variables": {"minutes": {"value": 1}}}
    assert deployed.post(f"/task/{task['id']}/complete", "audrey", json=body).status_code == 403
    assert deployed.post(f"/task/{task['id']}/unclaim", "audrey").status_code == 403
    assert deployed.get(f"/task/{task['id']}").json["assignee"] is None
