"""/engine-rest/history: process instances, the activities they passed, and their user tasks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.camunda_support import (
    CAMUNDA_FIXTURES,
    Camunda,
    camunda_fixture,  # noqa: F401  (the "camunda" fixture)
    deployed_fixture,  # noqa: F401  (the "deployed" fixture)
)

HISTORIC_INSTANCE_MEMBERS = {
    "id",
    "rootProcessInstanceId",
    "superProcessInstanceId",
    "superCaseInstanceId",
    "caseInstanceId",
    "processDefinitionName",
    "processDefinitionKey",
    "processDefinitionVersion",
    "processDefinitionId",
    "businessKey",
    "startTime",
    "endTime",
    "removalTime",
    "durationInMillis",
    "startUserId",
    "startActivityId",
    "deleteReason",
    "tenantId",
    "state",
}
ACTIVITY_MEMBERS = {
    "id",
    "parentActivityInstanceId",
    "activityId",
    "activityName",
    "activityType",
    "processDefinitionKey",
    "processDefinitionId",
    "processInstanceId",
    "executionId",
    "taskId",
    "assignee",
    "calledProcessInstanceId",
    "calledCaseInstanceId",
    "startTime",
    "endTime",
    "durationInMillis",
    "canceled",
    "completeScope",
    "tenantId",
    "removalTime",
    "rootProcessInstanceId",
}
HISTORIC_TASK_MEMBERS = {
    "id",
    "processDefinitionKey",
    "processDefinitionId",
    "processInstanceId",
    "executionId",
    "caseDefinitionKey",
    "caseDefinitionId",
    "caseInstanceId",
    "caseExecutionId",
    "activityInstanceId",
    "name",
    "description",
    "deleteReason",
    "owner",
    "assignee",
    "startTime",
    "endTime",
    "duration",
    "taskDefinitionKey",
    "priority",
    "due",
    "parentTaskId",
    "followUp",
    "tenantId",
    "removalTime",
    "rootProcessInstanceId",
    "taskState",
}


def _paid(camunda: Camunda, business_key: str = "CASE-1") -> tuple[str, dict[str, Any]]:
    """A payment taken to its end: transferred, then confirmed by alice 30 minutes later."""
    instance_id, task = camunda.to_confirm(business_key)
    assert camunda.post(f"/task/{task['id']}/claim", json={"userId": "alice"}).status_code == 204
    camunda.clock.advance(timedelta(minutes=30))
    done = camunda.post(f"/task/{task['id']}/complete", json={"variables": {"minutes": {"value": 5}}})
    assert done.status_code == 204, done.json
    return instance_id, task


def _declined(camunda: Camunda) -> str:
    instance_id = camunda.start("CASE-D")
    [locked] = [t for t in camunda.fetch() if t["processInstanceId"] == instance_id]
    answer = {"workerId": "w1", "errorCode": "DECLINED"}
    assert camunda.post(f"/external-task/{locked['id']}/bpmnError", json=answer).status_code == 204
    return instance_id


def test_historic_process_instance(deployed: Camunda) -> None:
    instance_id, _ = _paid(deployed)
    body = deployed.get(f"/history/process-instance/{instance_id}").json
    assert set(body) == HISTORIC_INSTANCE_MEMBERS
    assert body["state"] == "COMPLETED" and body["businessKey"] == "CASE-1"
    assert body["startActivityId"] == "start" and body["startUserId"] == "alice"
    assert body["processDefinitionName"] == "Compensation payment" and body["processDefinitionVersion"] == 1
    assert body["startTime"] == "2026-01-05T09:00:00.000+0000"
    assert body["endTime"] == "2026-01-05T09:30:00.000+0000" and body["durationInMillis"] == 30 * 60 * 1000
    assert body["deleteReason"] is None and body["rootProcessInstanceId"] == instance_id
    running = deployed.start()
    assert deployed.get(f"/history/process-instance/{running}").json["state"] == "ACTIVE"
    deployed.engine.runtime.suspend(running, deployed.engine_operator)
    assert deployed.get(f"/history/process-instance/{running}").json["state"] == "SUSPENDED"
    deployed.engine.runtime.cancel(running, deployed.engine_operator, reason="customer withdrew")
    cancelled = deployed.get(f"/history/process-instance/{running}").json
    assert cancelled["state"] == "EXTERNALLY_TERMINATED" and cancelled["deleteReason"] == "customer withdrew"
    missing = deployed.get("/history/process-instance/no-such-instance")
    assert missing.status_code == 404 and set(missing.json) == {"type", "message"}


def test_activity_history_of_the_happy_path(deployed: Camunda) -> None:
    instance_id, task = _paid(deployed)
    response = deployed.get(f"/history/activity-instance?processInstanceId={instance_id}")
    assert response.status_code == 200
    activities = response.json
    assert [(a["activityId"], a["activityType"]) for a in activities] == [
        ("start", "startEvent"),
        ("charge", "serviceTask"),
        ("confirm", "userTask"),
        ("paid", "noneEndEvent"),
    ]
    for activity in activities:
        assert set(activity) == ACTIVITY_MEMBERS
        assert activity["parentActivityInstanceId"] == instance_id == activity["processInstanceId"]
        assert activity["id"].startswith(activity["activityId"] + ":")
        assert activity["endTime"] is not None and activity["canceled"] is False
    confirm = activities[2]
    assert confirm["taskId"] == task["id"] and confirm["assignee"] == "alice"
    assert confirm["activityName"] == "Confirm payment to customer"
    assert activities[3]["completeScope"] is True and activities[0]["completeScope"] is False


def test_activity_history_of_the_error_path(deployed: Camunda) -> None:
    instance_id = _declined(deployed)
    activities = deployed.get(f"/history/activity-instance?processInstanceId={instance_id}").json
    by_id = {a["activityId"]: a for a in activities}
    assert set(by_id) == {"start", "charge", "declined", "review"}
    assert by_id["charge"]["canceled"] is True
    assert by_id["declined"]["activityType"] == "boundaryError" and by_id["declined"]["endTime"] is not None
    assert by_id["review"]["endTime"] is None and by_id["review"]["taskId"] is not None


def test_activity_filters_sorting_and_counts(deployed: Camunda) -> None:
    paid, _ = _paid(deployed)
    declined = _declined(deployed)

    def ids(query: str) -> list[str]:
        response = deployed.get(f"/history/activity-instance?{query}")
        assert response.status_code == 200, response.json
        return [a["activityId"] for a in response.json]

    assert ids("activityType=userTask&sortBy=activityId&sortOrder=asc") == ["confirm", "review"]
    assert ids(f"processInstanceId={declined}&unfinished=true") == ["review"]
    assert ids(f"processInstanceId={declined}&canceled=true") == ["charge"]
    assert ids("taskAssignee=alice") == ["confirm"]
    assert ids(f"executionId={paid}&activityId=paid&completeScope=true") == ["paid"]
    assert ids(f"processInstanceId={paid}&executionId={declined}") == []
    assert ids(f"processInstanceId={paid}&sortBy=activityId&sortOrder=desc&firstResult=1&maxResults=2") == [
        "paid",
        "confirm",
    ]
    assert deployed.get(f"/history/activity-instance/count?processInstanceId={paid}").json == {"count": 4}
    posted = deployed.post(
        "/history/activity-instance?maxResults=1",
        json={"activityType": "userTask", "sorting": [{"sortBy": "activityName", "sortOrder": "desc"}]},
    )
    assert [a["activityId"] for a in posted.json] == ["review"]
    assert deployed.post("/history/activity-instance/count", json={"activityType": "userTask"}).json == {
        "count": 2
    }


def test_bad_history_queries_get_400(deployed: Camunda) -> None:
    queries = ["sortBy=colour&sortOrder=asc", "finished=sometimes", "startedBefore=soon", "tenantIdIn=acme"]
    for query in queries:
        for path in ("/history/activity-instance", "/history/task"):
            response = deployed.get(f"{path}?{query}")
            assert response.status_code == 400, (path, query)
            assert response.json["type"] == "InvalidRequestException"


def test_historic_tasks(deployed: Camunda) -> None:
    paid, task = _paid(deployed)
    declined = _declined(deployed)
    response = deployed.get(f"/history/task?processInstanceId={paid}")
    [done] = response.json
    assert set(done) == HISTORIC_TASK_MEMBERS
    assert done["id"] == task["id"] and done["activityInstanceId"] == f"confirm:{task['id']}"
    assert done["deleteReason"] == "completed" and done["taskState"] == "Completed"
    assert done["assignee"] == "alice" and done["duration"] == 30 * 60 * 1000
    assert done["startTime"] == "2026-01-05T09:00:00.000+0000"
    assert done["endTime"] == "2026-01-05T09:30:00.000+0000" and done["due"] == "2026-01-05T13:00:00.000+0000"
    [review] = deployed.get(f"/history/task?processInstanceId={declined}").json
    assert review["deleteReason"] is None and review["endTime"] is None and review["taskState"] == "Created"

    def names(query: str) -> list[str]:
        found = deployed.get(f"/history/task?{query}")
        assert found.status_code == 200, found.json
        return [t["taskDefinitionKey"] for t in found.json]

    assert names("finished=true") == ["confirm"]
    assert names("unfinished=true") == ["review"]
    assert names("taskAssignee=alice&processDefinitionKey=payment") == ["confirm"]
    assert names("processInstanceBusinessKey=CASE-D") == ["review"]
    assert names("taskHadCandidateGroup=finance") == ["review"]
    assert names("sortBy=startTime&sortOrder=desc") == ["review", "confirm"]
    assert names("taskNameLike=Review&unassigned=true") == ["review"]
    assert deployed.get("/history/task/count?finished=true").json == {"count": 1}
    posted = deployed.post(
        "/history/task?firstResult=0&maxResults=5",
        json={"taskDefinitionKey": "review", "sorting": [{"sortBy": "taskName", "sortOrder": "asc"}]},
    )
    assert [t["id"] for t in posted.json] == [review["id"]]
    assert deployed.post("/history/task/count", json={"unfinished": True}).json == {"count": 1}


def test_cancelled_user_tasks_show_as_deleted(deployed: Camunda) -> None:
    instance_id, task = deployed.to_confirm()
    deployed.engine.runtime.cancel(instance_id, deployed.engine_operator, reason="duplicate")
    [record] = deployed.get(f"/history/task?taskId={task['id']}").json
    assert record["deleteReason"] == "deleted" and record["taskState"] == "Deleted"
    activities = deployed.get(f"/history/activity-instance?processInstanceId={instance_id}").json
    confirm = next(a for a in activities if a["activityId"] == "confirm")
    assert confirm["canceled"] is True and confirm["endTime"] is not None


def test_activity_history_of_a_sub_process_and_a_parallel_join(camunda: Camunda) -> None:
    assert camunda.deploy(("nested.bpmn", (CAMUNDA_FIXTURES / "nested.bpmn").read_bytes())).status_code == 200
    instance_id = camunda.post("/process-definition/key/nested/start", json={}).json["id"]
    for _ in range(2):  # the inner task, then both parallel ones
        for task in camunda.open_tasks(instance_id):
            assert camunda.post(f"/task/{task['id']}/complete", json={}).status_code == 204
    activities = camunda.get(f"/history/activity-instance?processInstanceId={instance_id}").json
    sub = next(a for a in activities if a["activityId"] == "sub")
    assert sub["activityType"] == "subProcess" and sub["endTime"] is not None
    inner = [a for a in activities if a["parentActivityInstanceId"] == sub["id"]]
    assert [(a["activityId"], a["activityType"]) for a in inner] == [
        ("is", "startEvent"),
        ("it", "userTask"),
        ("ie", "noneEndEvent"),
    ]
    outer = [a["activityId"] for a in activities if a["parentActivityInstanceId"] == instance_id]
    assert sorted(outer) == sorted(["s", "sub", "fork", "a", "b", "join", "join", "e"])
    # Both tokens reached the join; neither was cancelled.
    assert not any(a["canceled"] for a in activities)
    assert camunda.get(f"/history/process-instance/{instance_id}").json["state"] == "COMPLETED"
