"""Malformed requests get a problem response with the right status, never a 500, and change nothing."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.rest_support import Rest, deployed, rest

__all__ = ["deployed", "rest"]


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_bodies_that_are_not_json_objects(deployed: Rest) -> None:
    rest = deployed
    for data, content_type in (
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"process_key": NaN}', "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b'{"process_key": "a\\u0000b"}', "application/json"),
        (b"\xff\xfe", "application/json"),
    ):
        problem(rest.post("/instances", data=data, content_type=content_type), 400)
    problem(rest.post("/instances", data=b"process_key=service_call", content_type="text/plain"), 415)
    problem(rest.post("/instances"), 415)
    body = problem(rest.post("/instances", json={"process_key": 7, "variables": {"": 1}}), 422)
    assert {e["field"] for e in body["errors"]} >= {"process_key"}
    assert rest.get("/instances").json["total"] == 0


def test_query_strings_that_make_no_sense(rest: Rest) -> None:
    for query in (
        "?limit=0",
        "?limit=100000",
        "?offset=-1",
        "?offset=1e3",
        "?sort=",
        "?sort=-",
        "?status=",
        "?started_after=2026-13-45",
        "?business_key=a%00b",
        "?suspended=maybe",
        "?limit=" + "9" * 40,
    ):
        body = problem(rest.get(f"/instances{query}"), 400)
        assert body["errors"], query


def test_unknown_routes_methods_and_ids(rest: Rest) -> None:
    problem(rest.get("/nothing-here"), 404)
    problem(rest.delete("/instances"), 405)
    for path in (
        "/instances/%00",
        "/tasks/" + "x" * 5000,
        "/definitions/a:b:c",
        "/incidents/'; drop table x",
    ):
        problem(rest.get(path), 404)
    problem(rest.post("/tasks/nope/claim"), 404)


def test_too_large_a_body(rest: Rest) -> None:
    rest.app.config["MAX_CONTENT_LENGTH"] = 1024
    problem(rest.post("/instances", json={"process_key": "x" * 2000}), 413)


def test_a_refused_command_leaves_nothing_behind(deployed: Rest) -> None:
    rest = deployed
    case = rest.start("SC-1")
    task_id = case["tasks"][0]["id"]
    before = rest.get(f"/instances/{case['id']}").json
    history_before = rest.get(f"/instances/{case['id']}/history").json["total"]
    # The form refuses the data: nothing of it is stored, the task stays open.
    problem(rest.post(f"/tasks/{task_id}/complete", json={"data": {"severity": 7, "customer": "x"}}), 422)
    after = rest.get(f"/instances/{case['id']}").json
    assert after == before
    assert rest.get(f"/instances/{case['id']}/history").json["total"] == history_before


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def test_values_no_variable_can_hold_are_refused_not_a_500(deployed: Rest) -> None:
    rest = deployed
    case = rest.start("SC-1")
    task_id = case["tasks"][0]["id"]
    before = rest.get(f"/instances/{case['id']}").json
    bodies = (
        ("POST", "/instances", "alice", '{"process_key": "service_call", "variables": {"a": %s}}'),
        ("POST", f"/tasks/{task_id}/complete", "alice", '{"data": {"customer": "ACME", "a": %s}}'),
        ("POST", "/messages", "alice", '{"name": "customer_answer", "variables": {"a": %s}}'),
        ("PATCH", f"/instances/{case['id']}/variables", "sam", '{"set": {"a": %s}}'),
    )
    for method, path, who, body in bodies:
        for value, reason in (
            ("[" * 400 + "]" * 400, "the body is nested too deeply"),
            ("[" * 100_000 + "]" * 100_000, "the body is nested too deeply"),
            ("[1, 1e400]", "1e400 is too large a number"),
            ('"\\ud800"', "lone UTF-16 surrogate"),
        ):
            data = (body % value).encode()
            reply = rest.request(method, path, who, data=data, content_type="application/json")
            assert reason in problem(reply, 400)["detail"], (path, value[:20])
        # A body may hold a little more than a variable may: the engine refuses the variable itself.
        data = (body % json.dumps(_nested(65))).encode()
        reply = rest.request(method, path, who, data=data, content_type="application/json")
        assert "a is nested too deeply" in problem(reply, 422)["detail"], path
    surrogate_key = b'{"process_key": "service_call", "business_key": "SC-\\udc00"}'
    reply = rest.request("POST", "/instances", "alice", data=surrogate_key, content_type="application/json")
    assert "lone UTF-16 surrogate" in problem(reply, 400)["detail"]
    # The same surrogate encoded as UTF-8 bytes (which UTF-8 forbids) rather than escaped.
    encoded = b'{"process_key": "service_call", "business_key": "SC-\xed\xb0\x80"}'
    reply = rest.request("POST", "/instances", "alice", data=encoded, content_type="application/json")
    assert "not valid JSON" in problem(reply, 400)["detail"]
    assert rest.get(f"/instances/{case['id']}").json == before
    assert rest.get("/instances").json["total"] == 1
    deepest = rest.post("/instances", json={"process_key": "service_call", "variables": {"a": _nested(64)}})
    assert deepest.status_code == 201 and deepest.json["variables"]["a"] == _nested(64)
