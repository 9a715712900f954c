"""No request to /engine-rest, however malformed, gets a 500 or anything but Camunda's error shape.

Hypothesis draws bodies, query strings and path ids (real ones and junk) for every endpoint;
each answer must be below 500, and every refusal a ``{"type", "message"}`` object.
"""

from __future__ import annotations

import io
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.camunda_support import (
    Camunda,
    basic,
    camunda_fixture,  # noqa: F401  (the "camunda" fixture)
    deployed_fixture,  # noqa: F401  (the "deployed" fixture)
)

EXAMPLES = 15
KNOWN_NAMES = [
    "workerId",
    "topics",
    "topicName",
    "lockDuration",
    "maxTasks",
    "variables",
    "businessKey",
    "errorCode",
    "retries",
    "retryTimeout",
    "newDuration",
    "userId",
    "sorting",
    "sortBy",
    "sortOrder",
    "firstResult",
    "maxResults",
    "processInstanceId",
    "candidateGroup",
    "dueBefore",
    "assignee",
    "value",
    "type",
    "withVariablesInReturn",
    "processVariables",
    "asyncResponseTimeout",
]
names = st.one_of(st.sampled_from(KNOWN_NAMES), st.text(max_size=8))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=4),
    max_leaves=12,
)
bodies = st.dictionaries(names, json_values, max_size=6)
queries = st.dictionaries(
    names,
    st.one_of(st.text(max_size=12), st.sampled_from(["true", "-1", "0", "2026-01-05T09:00:00.000+0000"])),
    max_size=4,
)

GETS = [
    "/version",
    "/deployment",
    "/deployment/{id}",
    "/process-definition",
    "/process-definition/count",
    "/process-definition/key/{id}",
    "/process-definition/{id}",
    "/process-definition/{id}/xml",
    "/task",
    "/task/count",
    "/task/{id}",
    "/process-instance/{id}",
    "/history/process-instance/{id}",
    "/history/activity-instance",
    "/history/activity-instance/count",
    "/history/task",
    "/history/task/count",
]
POSTS = [
    "/process-definition/key/{id}/start",
    "/process-definition/{id}/start",
    "/task",
    "/task/count",
    "/task/{id}/claim",
    "/task/{id}/unclaim",
    "/task/{id}/complete",
    "/task/{id}/submit-form",
    "/history/activity-instance",
    "/history/activity-instance/count",
    "/history/task",
    "/history/task/count",
    "/external-task/fetchAndLock",
    "/external-task/{id}/complete",
    "/external-task/{id}/failure",
    "/external-task/{id}/bpmnError",
    "/external-task/{id}/extendLock",
]
CHECKS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
# Across every endpoint of a kind at once: one database to set up, many requests.
MANY_CHECKS = settings(max_examples=EXAMPLES * 12, deadline=None, suppress_health_check=list(HealthCheck))


def _ids(camunda: Camunda) -> list[str]:
    instance_id, task = camunda.to_confirm()
    camunda.start()
    [locked] = camunda.fetch()
    definition = task["processDefinitionId"]
    deployment = camunda.get("/deployment").json[0]["id"]
    return [instance_id, task["id"], locked["id"], definition, deployment, "payment"]


def _check(response: Any, where: str) -> None:
    assert response.status_code < 500, (where, response.status_code, response.json)
    if response.status_code >= 400:
        assert isinstance(response.json, dict) and set(response.json) >= {"type", "message"}, where
        assert isinstance(response.json["message"], str) and response.json["message"]


def test_gets_never_fail(deployed: Camunda) -> None:
    real = _ids(deployed)
    deployed.add_user("fuzzer", ["designer", "service_manager", "agent", "finance"])

    @MANY_CHECKS
    @given(
        path=st.sampled_from(GETS),
        query=queries,
        which=st.one_of(st.sampled_from(real), st.text(min_size=1, max_size=10)),
    )
    def run(path: str, query: dict[str, str], which: str) -> None:
        url = path.replace("{id}", which.replace("/", "_").replace("?", "_").replace("#", "_") or "x")
        _check(deployed.get(url, "fuzzer", query_string=query), f"GET {url} {query}")

    run()


def test_posts_never_fail(deployed: Camunda) -> None:
    real = _ids(deployed)
    deployed.add_user("fuzzer", ["designer", "service_manager", "agent", "finance"])

    @MANY_CHECKS
    @given(
        path=st.sampled_from(POSTS),
        body=st.one_of(bodies, json_values),
        which=st.sampled_from(real),
        raw=st.booleans(),
    )
    def run(path: str, body: Any, which: str, raw: bool) -> None:
        if isinstance(body, dict):
            body.pop("asyncResponseTimeout", None)  # a long poll is a wait, not a failure
        url = path.replace("{id}", which)
        if raw:
            text = str(body)  # Python's repr: rarely JSON
            response = deployed.post(url, "fuzzer", data=text, content_type="application/json")
        else:
            response = deployed.post(url, "fuzzer", json=body)
        _check(response, f"POST {url} {body!r}")

    run()


def test_deployment_uploads_never_fail(camunda: Camunda) -> None:
    @CHECKS
    @given(
        fields=st.dictionaries(
            st.sampled_from(
                [
                    "deployment-name",
                    "deployment-source",
                    "enable-duplicate-filtering",
                    "deploy-changed-only",
                    "tenant-id",
                    "x",
                ]
            ),
            st.text(max_size=10),
            max_size=4,
        ),
        name=st.sampled_from(["a.bpmn", "b.dmn", "c.form", "d.png", "e.bpmn20.xml"]),
        content=st.binary(max_size=200)
        | st.sampled_from([b"<bpmn:definitions/>", b"{}", b"<?xml version='1.0'?>"]),
    )
    def run(fields: dict[str, str], name: str, content: bytes) -> None:
        data: dict[str, Any] = {**fields, name: (io.BytesIO(content), name)}
        response = camunda.client.post(
            "/engine-rest/deployment/create",
            headers=basic("dora"),
            data=data,
            content_type="multipart/form-data",
        )
        answer: Any = response.get_json(silent=True)
        assert response.status_code < 500, (fields, name, content, answer)
        assert response.status_code == 400 and set(answer) >= {"type", "message"}

    run()


def test_nul_characters_are_refused_before_they_reach_the_database(deployed: Camunda) -> None:
    for response in (
        deployed.get("/process-definition/%00"),
        deployed.get("/task", query_string={"assignee": "a\x00b"}),
        deployed.post("/process-definition/key/payment/start", json={"businessKey": "K\x00"}),
        deployed.post(
            "/external-task/fetchAndLock", json={"workerId": "w", "topics": [{"topicName": "\x00"}]}
        ),
        deployed.deploy(("a.bpmn", b"<x/>"), **{"deployment-name": "n\x00"}),
    ):
        assert response.status_code == 400 and "NUL" in response.json["message"]


def test_bodies_nested_too_deeply_or_holding_nan_get_a_400(deployed: Camunda) -> None:
    instance_id, task = deployed.to_confirm()
    before = deployed.get(f"/process-instance/{instance_id}/variables").json
    paths = [
        "/process-definition/key/payment/start",
        f"/task/{task['id']}/complete",
        "/external-task/fetchAndLock",
        "/task",
    ]
    bodies = [
        ('{"variables": {"n": {"value": %s}}}' % ("[" * 400 + "]" * 400), "nested too deeply"),
        ('{"variables": {"n": {"value": %s}}}' % ("[" * 100_000 + "]" * 100_000), "nested too deeply"),
        ('{"variables": {"n": {"value": [1, NaN]}}}', "NaN is not a number JSON allows"),
        ('{"variables": {"n": {"value": 1e400}}}', "1e400 is too large a number"),
    ]
    for path in paths:
        for body, fragment in bodies:
            response = deployed.post(path, data=body, content_type="application/json")
            _check(response, path)
            assert response.status_code == 400 and fragment in response.json["message"], (path, response.json)
    # Within what a body may hold, deeper than a variable may be: the engine names the variable.
    for path in paths[:2]:
        body = '{"variables": {"n": {"value": %s}}}' % ("[" * 65 + "]" * 65)
        response = deployed.post(path, data=body, content_type="application/json")
        assert response.status_code == 400 and "n is nested too deeply" in response.json["message"], path
    # A lone surrogate, escaped or as (forbidden) UTF-8 bytes, in any text of a body.
    for path, body in (
        ("/external-task/fetchAndLock", b'{"workerId": "w\\ud800", "maxTasks": 1, "topics": []}'),
        ("/external-task/fetchAndLock", b'{"workerId": "w\xed\xa0\x80", "maxTasks": 1, "topics": []}'),
        (f"/task/{task['id']}/claim", b'{"userId": "al\\udc00ice"}'),
        (f"/task/{task['id']}/claim", b'{"userId": "al\xed\xb0\x80ice"}'),
    ):
        response = deployed.post(path, data=body, content_type="application/json")
        _check(response, path)
        assert response.status_code == 400, (path, body, response.json)
    assert deployed.get(f"/process-instance/{instance_id}/variables").json == before
    assert deployed.engine.queries.count_instances() == 1
