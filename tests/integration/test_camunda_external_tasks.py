"""/engine-rest/external-task: fetch and lock, long polling, complete, BPMN errors, failures, locks."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from tests.integration.camunda_support import (
    TOPIC,
    Camunda,
    basic,
    camunda_fixture,  # noqa: F401  (the "camunda" fixture)
    deployed_fixture,  # noqa: F401  (the "deployed" fixture)
)

LOCKED_MEMBERS = {
    "activityId",
    "activityInstanceId",
    "errorMessage",
    "errorDetails",
    "executionId",
    "id",
    "lockExpirationTime",
    "createTime",
    "processDefinitionId",
    "processDefinitionKey",
    "processDefinitionVersionTag",
    "processInstanceId",
    "tenantId",
    "retries",
    "workerId",
    "priority",
    "topicName",
    "businessKey",
    "variables",
}


def _topic(**extra: Any) -> dict[str, Any]:
    return {"topicName": TOPIC, "lockDuration": 60000, **extra}


def test_fetch_and_lock_answers_as_camunda_does(deployed: Camunda) -> None:
    instance_id = deployed.start("CASE-1", amount=120, customer="ACME")
    [task] = deployed.fetch(topics=[_topic(variables=["amount"], includeExtensionProperties=True)])
    assert set(task) == LOCKED_MEMBERS | {"extensionProperties"}
    assert task["activityId"] == "charge" and task["activityInstanceId"] == f"charge:{task['id']}"
    assert task["processInstanceId"] == instance_id == task["executionId"]
    assert task["processDefinitionKey"] == "payment" and task["processDefinitionVersionTag"] == "2025.1"
    assert task["topicName"] == TOPIC and task["workerId"] == "w1" and task["businessKey"] == "CASE-1"
    assert task["lockExpirationTime"] == "2026-01-05T09:01:00.000+0000"
    assert task["createTime"] == "2026-01-05T09:00:00.000+0000"
    assert task["retries"] is None and task["errorMessage"] is None and task["tenantId"] is None
    assert task["variables"] == {"amount": {"type": "Integer", "value": 120, "valueInfo": {}}}
    assert task["extensionProperties"] == {"channel": "bank"}


def test_a_locked_task_waits_for_its_lock_to_expire(deployed: Camunda) -> None:
    deployed.start()
    [task] = deployed.fetch("w1")
    assert deployed.fetch("w2") == []
    deployed.clock.advance(timedelta(seconds=61))
    [again] = deployed.fetch("w2")
    assert again["id"] == task["id"] and again["workerId"] == "w2"
    late = deployed.post(f"/external-task/{task['id']}/complete", json={"workerId": "w1"})
    assert late.status_code == 400
    assert late.json["message"] == (
        f"External task {task['id']} is locked by worker 'w2', not by 'w1'; "
        "only the worker holding the lock may complete it"
    )


def test_complete_moves_the_process_on_with_the_workers_variables(deployed: Camunda) -> None:
    instance_id = deployed.start(amount=10)
    [task] = deployed.fetch()
    path = f"/external-task/{task['id']}/complete"
    assert deployed.post(path, json={"variables": {}}).status_code == 400  # no workerId
    done = deployed.post(
        path,
        json={
            "workerId": "w1",
            "variables": {"ref": {"value": "TX-1", "type": "String"}},
            "localVariables": {},
        },
    )
    assert done.status_code == 204 and done.data == b""
    [confirm] = deployed.open_tasks(instance_id)
    assert confirm["taskDefinitionKey"] == "confirm"
    assert deployed.engine.queries.instance(instance_id)["variables"]["ref"] == "TX-1"
    assert deployed.post(path, json={"workerId": "w1"}).status_code == 404
    assert deployed.post("/external-task/no-such-task/complete", json={"workerId": "w1"}).status_code == 404
    unlocked_id = deployed.start()
    open_row = deployed.engine.queries.tasks(instance_id=unlocked_id, kind="external")[0]
    not_locked = deployed.post(f"/external-task/{open_row['id']}/complete", json={"workerId": "w1"})
    assert not_locked.status_code == 400 and "is not locked" in not_locked.json["message"]


def test_a_bpmn_error_takes_the_error_boundary_path(deployed: Camunda) -> None:
    instance_id = deployed.start(amount=10)
    [task] = deployed.fetch()
    response = deployed.post(
        f"/external-task/{task['id']}/bpmnError",
        json={
            "workerId": "w1",
            "errorCode": "DECLINED",
            "errorMessage": "The bank declined the transfer",
            "variables": {"reason": {"value": "limit exceeded"}},
        },
    )
    assert response.status_code == 204
    [review] = deployed.open_tasks(instance_id)
    assert review["taskDefinitionKey"] == "review"
    assert deployed.get("/task?candidateGroup=finance").json[0]["id"] == review["id"]
    assert deployed.engine.queries.instance(instance_id)["variables"]["reason"] == "limit exceeded"
    no_code = deployed.post(f"/external-task/{task['id']}/bpmnError", json={"workerId": "w1"})
    assert no_code.status_code == 400


def test_an_uncaught_bpmn_error_is_an_incident(deployed: Camunda) -> None:
    instance_id = deployed.start()
    [task] = deployed.fetch()
    response = deployed.post(
        f"/external-task/{task['id']}/bpmnError", json={"workerId": "w1", "errorCode": "ODD"}
    )
    assert response.status_code == 204
    [incident] = deployed.engine.queries.incidents(instance_id=instance_id)
    assert "ODD" in incident["message"]


def test_failure_with_retries_waits_out_the_retry_timeout(deployed: Camunda) -> None:
    deployed.start()
    [task] = deployed.fetch()
    failed = deployed.post(
        f"/external-task/{task['id']}/failure",
        json={
            "workerId": "w1",
            "errorMessage": "bank unreachable",
            "errorDetails": "ConnectTimeout at line 3",
            "retries": 2,
            "retryTimeout": 30000,
        },
    )
    assert failed.status_code == 204
    assert deployed.fetch("w2") == []
    deployed.clock.advance(timedelta(seconds=31))
    [again] = deployed.fetch("w2")
    assert again["retries"] == 2
    assert again["errorMessage"] == "bank unreachable"
    assert again["errorDetails"] == "ConnectTimeout at line 3"


def test_failure_at_zero_retries_is_an_incident_until_retried(deployed: Camunda) -> None:
    instance_id = deployed.start()
    [task] = deployed.fetch()
    failed = deployed.post(
        f"/external-task/{task['id']}/failure",
        json={"workerId": "w1", "errorMessage": "gave up", "retries": 0},
    )
    assert failed.status_code == 204
    [incident] = deployed.engine.queries.incidents(instance_id=instance_id)
    assert incident["message"] == "gave up" and incident["element_id"] == "charge"
    deployed.clock.advance(timedelta(hours=1))
    assert deployed.fetch() == []
    deployed.engine.runtime.retry_incident(incident["id"], deployed.engine_operator)
    [again] = deployed.fetch()
    assert again["id"] == task["id"] and again["retries"] is None
    history = [e["type"] for e in deployed.engine.queries.history(instance_id=instance_id)]
    assert "external_task_failed" in history and "incident_raised" in history


def test_one_incident_per_run_of_failures_and_it_ends_with_the_task(deployed: Camunda) -> None:
    instance_id = deployed.start()
    [task] = deployed.fetch()
    for message in ("gave up", "still down"):
        failed = deployed.post(
            f"/external-task/{task['id']}/failure",
            json={"workerId": "w1", "errorMessage": message, "retries": 0},
        )
        assert failed.status_code == 204
    [incident] = deployed.engine.queries.incidents(instance_id=instance_id)
    assert incident["message"] == "gave up"
    assert deployed.engine.queries.instance(instance_id)["incidents"] == 1

    # The worker got through after all: the incident has nothing left to retry.
    done = deployed.post(f"/external-task/{task['id']}/complete", json={"workerId": "w1"})
    assert done.status_code == 204
    assert deployed.engine.queries.instance(instance_id)["incidents"] == 0
    assert deployed.engine.queries.incident(incident["id"])["state"] == "resolved"
    history = [e["type"] for e in deployed.engine.queries.history(instance_id=instance_id)]
    assert history.count("incident_raised") == 1 and history.count("incident_resolved") == 1


BAD_FAILURE_REPORTS: list[dict[str, Any]] = [
    {"workerId": "w2", "errorMessage": "x", "retries": 1},
    {"workerId": "w1", "errorMessage": "x"},
    {"workerId": "w1", "retries": -1},
    {"workerId": "w1", "retries": 1, "retryTimeout": -5},
    {"workerId": "w1", "retries": 1, "variables": {}},
    {"workerId": "w1", "retries": 1, "retryTimeout": 10**15},
    {"workerId": "w1", "retries": 10**12},
]


def test_bad_failure_reports_change_nothing(deployed: Camunda) -> None:
    deployed.start()
    [task] = deployed.fetch()
    for body in BAD_FAILURE_REPORTS:
        assert deployed.post(f"/external-task/{task['id']}/failure", json=body).status_code == 400, body
    deployed.clock.advance(timedelta(seconds=61))
    [again] = deployed.fetch()
    assert again["retries"] is None and again["errorMessage"] is None


def test_extend_lock(deployed: Camunda) -> None:
    deployed.start()
    [task] = deployed.fetch()
    path = f"/external-task/{task['id']}/extendLock"
    deployed.clock.advance(timedelta(seconds=50))
    assert deployed.post(path, json={"workerId": "w1", "newDuration": 120000}).status_code == 204
    deployed.clock.advance(timedelta(seconds=60))
    assert deployed.fetch("w2") == []  # the original lock would have run out by now
    assert deployed.post(path, json={"workerId": "w2", "newDuration": 1000}).status_code == 400
    assert deployed.post(path, json={"workerId": "w1", "newDuration": -1}).status_code == 400
    deployed.clock.advance(timedelta(seconds=61))
    expired = deployed.post(path, json={"workerId": "w1", "newDuration": 1000})
    assert expired.status_code == 400 and "expired" in expired.json["message"]
    assert (
        deployed.post("/external-task/nope/extendLock", json={"workerId": "w1", "newDuration": 1}).status_code
        == 404
    )


def test_topic_filters_and_limits(deployed: Camunda) -> None:
    first = deployed.start("CASE-1", region="north")
    deployed.clock.advance(timedelta(minutes=1))
    second = deployed.start("CASE-2", region="south")
    by_key = deployed.fetch(topics=[_topic(businessKey="CASE-2")])
    assert [t["processInstanceId"] for t in by_key] == [second]
    deployed.clock.advance(timedelta(minutes=2))  # locks run out
    by_variable = deployed.fetch(topics=[_topic(processVariables={"region": "north"})])
    assert [t["processInstanceId"] for t in by_variable] == [first]
    deployed.clock.advance(timedelta(minutes=2))
    assert deployed.fetch(topics=[_topic(processDefinitionKey="other")]) == []
    assert deployed.fetch(topics=[_topic(tenantIdIn=["acme"])]) == []
    assert deployed.fetch(topics=[{"topicName": "other-topic", "lockDuration": 1000}]) == []
    newest = deployed.fetch(maxTasks=1, sorting=[{"sortBy": "createTime", "sortOrder": "desc"}])
    assert [t["processInstanceId"] for t in newest] == [second]
    oldest = deployed.fetch(maxTasks=5, usePriority=True)
    assert [t["processInstanceId"] for t in oldest] == [first]
    assert deployed.fetch(maxTasks=0) == []


BAD_FETCHES: list[tuple[dict[str, Any], str]] = [
    ({"topics": []}, "workerId"),
    ({"workerId": "w1", "topics": {"topicName": TOPIC}}, "topics"),
    ({"workerId": "w1", "topics": [{"topicName": TOPIC}]}, "lockDuration"),
    ({"workerId": "w1", "topics": [{"topicName": TOPIC, "lockDuration": 0}]}, "lockDuration"),
    ({"workerId": "w1", "topics": [{"lockDuration": 10}]}, "topicName"),
    ({"workerId": "w1", "topics": [_topic(variables="amount")]}, "variables"),
    ({"workerId": "w1", "topics": [_topic(colour="red")]}, "Unsupported property 'colour'"),
    ({"workerId": "w1", "topics": [], "asyncResponseTimeout": 3_600_000}, "asyncResponseTimeout"),
    ({"workerId": "w1", "topics": [], "maxTasks": -1}, "maxTasks"),
    (
        {"workerId": "w1", "topics": [], "sorting": [{"sortBy": "priority", "sortOrder": "asc"}]},
        "createTime",
    ),
]


def test_bad_fetch_requests_get_400(deployed: Camunda) -> None:
    deployed.start()
    for body, fragment in BAD_FETCHES:
        response = deployed.post("/external-task/fetchAndLock", json=body)
        assert response.status_code == 400, body
        assert response.json["type"] == "InvalidRequestException"
        assert fragment in response.json["message"], (body, response.json)
    assert len(deployed.fetch()) == 1  # nothing was locked by the refused requests


def test_long_polling_answers_as_soon_as_work_arrives(deployed: Camunda) -> None:
    started = time.monotonic()
    assert deployed.fetch(asyncResponseTimeout=300) == []
    assert time.monotonic() - started >= 0.3

    def start_later() -> None:
        time.sleep(0.3)
        deployed.engine.runtime.start(actor=deployed.engine_operator, process_key="payment")

    thread = threading.Thread(target=start_later)
    thread.start()
    started = time.monotonic()
    found = deployed.fetch(asyncResponseTimeout=20000)
    waited = time.monotonic() - started
    thread.join()
    assert len(found) == 1
    assert 0.2 < waited < 10


def test_an_auditor_may_not_work_external_tasks(deployed: Camunda) -> None:
    instance_id = deployed.start()
    body = {"workerId": "w9", "topics": [_topic()]}
    refused = deployed.post("/external-task/fetchAndLock", "audrey", json=body)
    assert refused.status_code == 403 and refused.json["type"] == "AuthorizationException"
    [task] = deployed.fetch()
    path = f"/external-task/{task['id']}"
    answers = [
        ("complete", {"workerId": "w1"}),
        ("bpmnError", {"workerId": "w1", "errorCode": "DECLINED"}),
        ("failure", {"workerId": "w1", "retries": 0}),
        ("extendLock", {"workerId": "w1", "newDuration": 1000}),
    ]
    for action, answer in answers:
        assert deployed.post(f"{path}/{action}", "audrey", json=answer).status_code == 403, action
    assert deployed.engine.queries.incidents(instance_id=instance_id) == []
    assert deployed.post(f"{path}/complete", "tess", json={"workerId": "w1"}).status_code == 204


def test_concurrent_fetches_never_lock_the_same_task(deployed: Camunda) -> None:
    started = {deployed.start(f"CASE-{n}") for n in range(6)}
    results: dict[str, list[str]] = {}
    barrier = threading.Barrier(3)

    def fetch(worker: str) -> None:
        client = deployed.app.test_client()
        barrier.wait()
        response = client.post(
            "/engine-rest/external-task/fetchAndLock",
            headers=basic("alice"),
            json={"workerId": worker, "maxTasks": 4, "topics": [_topic()]},
        )
        body: Any = response.get_json()
        assert response.status_code == 200, body
        results[worker] = [t["id"] for t in body]

    threads = [threading.Thread(target=fetch, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    locked = [task_id for ids in results.values() for task_id in ids]
    assert len(locked) == len(set(locked)) == len(started)
    rows = deployed.engine.queries.tasks(kind="external")
    assert {r["id"] for r in rows} == set(locked)


def test_lock_durations_beyond_what_can_be_stored_are_refused(deployed: Camunda) -> None:
    deployed.start()
    [task] = deployed.fetch()
    extend = {"workerId": "w1", "newDuration": 10**15}
    assert deployed.post(f"/external-task/{task['id']}/extendLock", json=extend).status_code == 400
    huge = deployed.post(
        "/external-task/fetchAndLock",
        json={"workerId": "w2", "topics": [{"topicName": TOPIC, "lockDuration": 10**15}]},
    )
    assert huge.status_code == 400 and "lockDuration" in huge.json["message"]
