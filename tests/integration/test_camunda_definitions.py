"""/engine-rest/process-definition and /process-instance: listing, XML, starting with typed variables."""

from __future__ import annotations

from typing import Any

from tests.integration.camunda_support import (
    PAYMENT,
    PERSONAS,
    Camunda,
    camunda_fixture,  # noqa: F401  (the "camunda" fixture)
    deployed_fixture,  # noqa: F401  (the "deployed" fixture)
)


def _deploy_second_version(camunda: Camunda) -> None:
    changed = PAYMENT.read_bytes().replace(b'camunda:versionTag="2025.1"', b'camunda:versionTag="2025.2"')
    assert camunda.deploy(("payment.bpmn", changed)).status_code == 200


def test_definitions_list_filters_sorts_and_counts(deployed: Camunda) -> None:
    _deploy_second_version(deployed)
    listed = deployed.get("/process-definition?sortBy=version&sortOrder=desc").json
    assert [d["version"] for d in listed] == [2, 1]
    assert [d["version"] for d in deployed.get("/process-definition?latestVersion=true").json] == [2]
    assert [d["versionTag"] for d in deployed.get("/process-definition?versionTag=2025.1").json] == ["2025.1"]
    assert len(deployed.get("/process-definition?keyLike=pay&nameLike=Compensation").json) == 2
    assert deployed.get("/process-definition?key=other").json == []
    assert deployed.get("/process-definition?suspended=true").json == []
    assert deployed.get("/process-definition?active=true&maxResults=1").json[0]["key"] == "payment"
    assert deployed.get("/process-definition/count?key=payment").json == {"count": 2}
    assert deployed.get("/process-definition/count?versionTag=2025.2").json == {"count": 1}
    ids = ",".join(d["id"] for d in listed)
    assert len(deployed.get(f"/process-definition?processDefinitionIdIn={ids}").json) == 2


def test_definition_by_key_id_and_xml(deployed: Camunda) -> None:
    latest = deployed.get("/process-definition/key/payment")
    assert latest.status_code == 200 and latest.json["key"] == "payment"
    by_id = deployed.get(f"/process-definition/{latest.json['id']}")
    assert by_id.json == latest.json
    xml = deployed.get(f"/process-definition/{latest.json['id']}/xml").json
    assert xml["id"] == latest.json["id"] and 'camunda:topic="payment-transfer"' in xml["bpmn20Xml"]
    assert deployed.get("/process-definition/key/payment/xml").json == xml
    missing = deployed.get("/process-definition/key/nothing")
    assert missing.status_code == 404
    assert missing.json == {
        "type": "InvalidRequestException",
        "message": "No matching process definition with key: nothing and no tenant-id",
    }
    assert deployed.get("/process-definition/nothing:1:x").status_code == 404


def test_start_by_key_with_typed_variables(deployed: Camunda) -> None:
    response = deployed.post(
        "/process-definition/key/payment/start",
        json={
            "businessKey": "CASE-7",
            "variables": {
                "amount": {"value": 150, "type": "Integer"},
                "rate": {"value": "0.5", "type": "Double"},
                "urgent": {"value": "true", "type": "Boolean"},
                "customer": {"value": "ACME", "type": "String"},
                "items": {"value": '[{"sku": "A-1"}]', "type": "Json"},
                "extra": {"value": None, "type": "Null"},
                "untyped": {"value": 3},
            },
            "withVariablesInReturn": True,
            "skipCustomListeners": False,
        },
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {
        "links",
        "id",
        "definitionId",
        "businessKey",
        "caseInstanceId",
        "ended",
        "suspended",
        "tenantId",
        "variables",
    }
    assert body["businessKey"] == "CASE-7" and body["ended"] is False and body["suspended"] is False
    assert body["links"][0]["href"].endswith(f"/engine-rest/process-instance/{body['id']}")
    assert body["variables"]["amount"] == {"type": "Integer", "value": 150, "valueInfo": {}}
    assert body["variables"]["rate"] == {"type": "Double", "value": 0.5, "valueInfo": {}}
    assert body["variables"]["urgent"]["value"] is True
    assert body["variables"]["items"] == {"type": "Json", "value": '[{"sku": "A-1"}]', "valueInfo": {}}
    assert body["variables"]["extra"] == {"type": "Null", "value": None, "valueInfo": {}}
    # The engine holds plain JSON values.
    state = deployed.engine.queries.instance(body["id"])
    assert state["variables"]["items"] == [{"sku": "A-1"}] and state["variables"]["urgent"] is True
    running = deployed.get(f"/process-instance/{body['id']}")
    assert running.status_code == 200
    assert running.json == {
        "id": body["id"],
        "definitionId": body["definitionId"],
        "businessKey": "CASE-7",
        "caseInstanceId": None,
        "ended": False,
        "suspended": False,
        "tenantId": None,
    }


def test_start_by_id_starts_that_version(deployed: Camunda) -> None:
    first = deployed.get("/process-definition/key/payment").json["id"]
    _deploy_second_version(deployed)
    response = deployed.post(f"/process-definition/{first}/start", json={})
    assert response.status_code == 200
    assert response.json["definitionId"] == first and "variables" not in response.json
    latest = deployed.post("/process-definition/key/payment/start")
    assert latest.json["definitionId"] != first


BAD_VARIABLES: list[tuple[Any, str]] = [
    ({"n": {"value": "ten", "type": "Integer"}}, "Cannot convert value 'ten' of type 'Integer'"),
    ({"n": {"value": 2**40, "type": "Integer"}}, "out of range"),
    ({"n": {"value": "maybe", "type": "Boolean"}}, "'Boolean'"),
    ({"n": {"value": "{oops", "type": "Json"}}, "not valid JSON"),
    ({"n": {"value": "AAEC", "type": "Bytes"}}, "not supported"),
    ({"n": {"value": 1, "type": "Money"}}, "unsupported value type 'Money'"),
    ({"n": {"value": "NaN", "type": "Double"}}, "'Double'"),
    ({"n": {"value": "1e999", "type": "Double"}}, "'Double'"),
    ({"n": {"value": "0001-01-01T00:00:00.000+0100", "type": "Date"}}, "'Date'"),
    ({"n": 5}, "Invalid variable 'n'"),
    ({"_secret": {"value": 1}}, "not a valid variable name"),
    ([1, 2], "must be a JSON object"),
]
BAD_START_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"startInstructions": [{"type": "startBeforeActivity", "activityId": "charge"}]}, "startInstructions"),
    ({"caseInstanceId": "c1"}, "CMMN"),
    ({"businessKey": 5}, "businessKey"),
    ({"colour": "red"}, "Unsupported property 'colour'"),
]


def test_bad_variables_and_start_options_are_refused_and_start_nothing(deployed: Camunda) -> None:
    cases = [
        ({"variables": variables}, fragment) for variables, fragment in BAD_VARIABLES
    ] + BAD_START_OPTIONS
    for body, fragment in cases:
        response = deployed.post("/process-definition/key/payment/start", json=body)
        assert response.status_code == 400, body
        assert response.json["type"] == "InvalidRequestException", body
        assert fragment in response.json["message"], (body, response.json)
    assert deployed.engine.queries.count_instances() == 0


def test_malformed_json_gets_400(deployed: Camunda) -> None:
    response = deployed.post(
        "/process-definition/key/payment/start", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400 and set(response.json) == {"type", "message"}
    assert "not valid JSON" in response.json["message"]


def test_starting_an_unknown_process_gets_404(deployed: Camunda) -> None:
    assert deployed.post("/process-definition/key/nothing/start", json={}).status_code == 404
    assert deployed.post("/process-definition/nothing:1:x/start", json={}).status_code == 404


def test_who_may_start_and_read(deployed: Camunda) -> None:
    for role, who in PERSONAS.items():
        assert deployed.get("/process-definition", who).status_code == 200, role
        response = deployed.post("/process-definition/key/payment/start", who, json={})
        if role == "auditor":
            assert response.status_code == 403 and response.json["type"] == "AuthorizationException"
        else:
            assert response.status_code == 200, role
    assert deployed.engine.queries.count_instances() == len(PERSONAS) - 1


def test_ended_instances_are_history_not_runtime(deployed: Camunda) -> None:
    instance_id, task = deployed.to_confirm()
    done = deployed.post(f"/task/{task['id']}/complete", json={"variables": {"minutes": {"value": 2}}})
    assert done.status_code == 204, done.json
    ended = deployed.get(f"/process-instance/{instance_id}")
    assert ended.status_code == 404
    assert ended.json["message"] == f"Process instance with id {instance_id} does not exist"
    assert deployed.get(f"/history/process-instance/{instance_id}").json["state"] == "COMPLETED"
    assert deployed.get("/process-instance/no-such-instance").status_code == 404


def test_instance_variables_are_read_and_repaired_as_in_camunda(deployed: Camunda) -> None:
    instance_id = deployed.start("PAY-7", amount=120, note="check")
    path = f"/process-instance/{instance_id}/variables"
    listed = deployed.get(path)
    assert listed.status_code == 200
    assert listed.json["amount"] == {"type": "Integer", "value": 120, "valueInfo": {}}
    assert deployed.get(f"{path}/note").json == {"type": "String", "value": "check", "valueInfo": {}}
    missing = deployed.get(f"{path}/nothing")
    assert missing.status_code == 404 and "nothing" in missing.json["message"]

    change = {"modifications": {"amount": {"value": 95, "type": "Long"}}, "deletions": ["note"]}
    for body in (change, {}):  # refused even when there is nothing to change
        refused = deployed.request("POST", path, "alice", json=body)
        assert refused.status_code == 403 and refused.json["type"] == "AuthorizationException"
    not_a_number = {"modifications": {"amount": {"value": "x", "type": "Integer"}}}
    bad = deployed.request("POST", path, "sam", json=not_a_number)
    assert bad.status_code == 400 and bad.json["type"] == "InvalidRequestException"
    assert deployed.request("POST", path, "sam", json=change).status_code == 204
    reason = {"value": "typo", "type": "String"}
    assert deployed.request("PUT", f"{path}/reason", "sam", json=reason).status_code == 204
    assert deployed.request("DELETE", f"{path}/absent", "sam").status_code == 204  # as in Camunda
    assert deployed.request("POST", path, "sam", json={}).status_code == 204  # nothing to change
    variables = deployed.get(path).json
    assert variables["amount"]["value"] == 95 and variables["reason"]["value"] == "typo"
    assert "note" not in variables
    history = deployed.engine.queries.history(instance_id=instance_id, event_type="variables_changed")
    assert [(e["actor"], e["data"]["set"], e["data"]["removed"]) for e in history] == [
        ("sam", {"amount": 95}, ["note"]),
        ("sam", {"reason": "typo"}, []),
    ]
    assert deployed.request("DELETE", "/process-instance/nope/variables/x", "sam").status_code == 404


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


AS_JSON = {"serializationDataFormat": "application/json"}
UNFIT_JSON_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"value": "NaN", "type": "Json"}, "NaN is not a number JSON allows"),
    ({"value": '{"a": [1, -Infinity]}', "type": "Json"}, "-Infinity is not a number JSON allows"),
    ({"value": "[1e400]", "type": "Json"}, "1e400 is too large a number"),
    ({"value": "[Infinity]", "type": "Object", "valueInfo": AS_JSON}, "Infinity is not a number JSON allows"),
    ({"value": _deep(65), "type": "Json"}, "its Json value is nested too deeply (at most 64 levels"),
    ({"value": _deep(400), "type": "Json"}, "its Json value is nested too deeply"),
    ({"value": _deep(10**5), "type": "Object", "valueInfo": AS_JSON}, "its Object value is nested too"),
]


def test_json_values_no_variable_can_hold_are_refused_and_start_nothing(deployed: Camunda) -> None:
    for sent, fragment in UNFIT_JSON_VALUES:
        response = deployed.post("/process-definition/key/payment/start", json={"variables": {"n": sent}})
        assert response.status_code == 400, (sent["value"][:20], response.json)
        assert response.json["type"] == "InvalidRequestException"
        assert "Invalid variable 'n'" in response.json["message"], response.json
        assert fragment in response.json["message"], response.json
    assert deployed.engine.queries.count_instances() == 0
    deepest = {"n": {"value": _deep(64), "type": "Json"}}
    response = deployed.post("/process-definition/key/payment/start", json={"variables": deepest})
    assert response.status_code == 200, response.json
