"""/engine-rest/version and /deployment: what Camunda Modeler calls, over HTTP, as it calls it."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.integration.camunda_support import (
    BROKEN,
    CAMUNDA_FIXTURES,
    PAYMENT,
    PERSONAS,
    Camunda,
    basic,
    camunda_fixture,  # noqa: F401  (the "camunda" fixture)
)

CAMUNDA_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
PARSE_PREFIX = "ENGINE-09005 Could not parse BPMN process."


def test_modeler_connection_check(camunda: Camunda) -> None:
    version = camunda.get("/version", "dora")
    assert version.status_code == 200
    assert version.json == {"version": "7.22.0"}
    listed = camunda.get("/deployment?maxResults=0", "dora")
    assert listed.status_code == 200 and listed.json == []


def test_callers_must_sign_in_with_basic_or_bearer(camunda: Camunda) -> None:
    anonymous = camunda.get("/version", None)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="default"'
    assert set(anonymous.json) == {"type", "message"}
    wrong = camunda.get("/version", None, headers=basic("dora", "not the password"))
    assert wrong.status_code == 401
    bearer = camunda.get("/version", None, headers={"Authorization": f"Bearer {camunda.token('dora')}"})
    assert bearer.status_code == 200


def test_deploy_as_camunda_modeler_gets_camundas_answer(camunda: Camunda) -> None:
    response = camunda.deploy(
        ("payment.bpmn", PAYMENT.read_bytes()),
        **{"enable-duplicate-filtering": "true", "deployment-name": "pay"},
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {
        "links",
        "id",
        "name",
        "source",
        "deploymentTime",
        "tenantId",
        "deployedProcessDefinitions",
        "deployedCaseDefinitions",
        "deployedDecisionDefinitions",
        "deployedDecisionRequirementsDefinitions",
    }
    assert body["links"] == [
        {"method": "GET", "href": f"http://localhost/engine-rest/deployment/{body['id']}", "rel": "self"}
    ]
    assert body["name"] == "pay" and body["source"] == "Camunda Modeler" and body["tenantId"] is None
    assert CAMUNDA_DATE.match(body["deploymentTime"])
    assert body["deployedCaseDefinitions"] is None and body["deployedDecisionDefinitions"] is None
    [(definition_id, definition)] = body["deployedProcessDefinitions"].items()
    assert re.fullmatch(r"payment:1:[0-9a-f-]{36}", definition_id)
    assert definition == {
        "id": definition_id,
        "key": "payment",
        "category": "http://crm.example/payments",
        "description": "Pay an approved compensation to the customer.",
        "name": "Compensation payment",
        "version": 1,
        "resource": "payment.bpmn",
        "deploymentId": body["id"],
        "diagram": None,
        "suspended": False,
        "tenantId": None,
        "versionTag": "2025.1",
        "historyTimeToLive": 30,
        "startableInTasklist": True,
    }
    fetched = camunda.get(f"/deployment/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json["id"] == body["id"] and fetched.json["deploymentTime"] == body["deploymentTime"]


def test_duplicate_filtering_answers_with_the_existing_deployment(camunda: Camunda) -> None:
    first = camunda.deploy(("payment.bpmn", PAYMENT.read_bytes()), **{"enable-duplicate-filtering": "true"})
    again = camunda.deploy(("payment.bpmn", PAYMENT.read_bytes()), **{"enable-duplicate-filtering": "true"})
    assert again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert again.json["deployedProcessDefinitions"] is None
    changed = PAYMENT.read_bytes().replace(b'name="Paid"', b'name="Paid out"')
    third = camunda.deploy(("payment.bpmn", changed), **{"deploy-changed-only": "true"})
    [definition] = third.json["deployedProcessDefinitions"].values()
    assert definition["version"] == 2 and third.json["id"] != first.json["id"]


def test_without_filtering_every_deployment_is_a_new_version(camunda: Camunda) -> None:
    versions = []
    for _ in range(2):
        [definition] = (
            camunda.deploy(("payment.bpmn", PAYMENT.read_bytes())).json["deployedProcessDefinitions"].values()
        )
        versions.append(definition["version"])
    assert versions == [1, 2]
    latest = camunda.get("/process-definition/key/payment")
    assert latest.json["version"] == 2


def test_forms_deploy_as_attachments_found_by_file_name_or_form_id(camunda: Camunda) -> None:
    diagram = (CAMUNDA_FIXTURES / "approval.bpmn").read_bytes()
    form = (CAMUNDA_FIXTURES / "approval-form.form").read_bytes()
    without_form = camunda.deploy(("approval.bpmn", diagram))
    assert without_form.status_code == 400
    assert without_form.json["message"].startswith(PARSE_PREFIX)
    assert "approval" in without_form.json["message"]
    with_form = camunda.deploy(("approval.bpmn", diagram), ("approval-form.form", form))
    assert with_form.status_code == 200, with_form.json
    [definition] = with_form.json["deployedProcessDefinitions"].values()
    assert definition["key"] == "approval"
    started = camunda.post("/process-definition/key/approval/start", "sam", json={})
    [task] = camunda.get(f"/task?processInstanceId={started.json['id']}", "sam").json
    assert task["formKey"] == "approval"
    empty = camunda.post(f"/task/{task['id']}/complete", "sam", json={"variables": {}})
    assert empty.status_code == 400 and "note" in empty.json["message"]
    noted = camunda.post(f"/task/{task['id']}/complete", "sam", json={"variables": {"note": {"value": "ok"}}})
    assert noted.status_code == 204


def test_a_form_nested_too_deeply_is_a_parse_error_not_a_crash(camunda: Camunda) -> None:
    diagram = (CAMUNDA_FIXTURES / "approval.bpmn").read_bytes()
    nested = b"[" * 5_000 + b"]" * 5_000
    form = b'{"type": "default", "id": "approval", "components": [{"type": "textfield", "key": "note", "x": '
    response = camunda.deploy(("approval.bpmn", diagram), ("approval.form", form + nested + b"}]}"))
    assert response.status_code == 400, response.json
    assert "nested too deeply" in response.json["message"]
    assert camunda.get("/deployment").json == []


def test_a_broken_diagram_gets_engine_09005_with_line_numbers(camunda: Camunda) -> None:
    response = camunda.deploy(("broken.bpmn", BROKEN.read_bytes()))
    assert response.status_code == 400
    body = response.json
    assert body["type"] == "ParseException"
    assert body["message"].startswith(PARSE_PREFIX + " Errors: ")
    assert "| resource broken.bpmn | line 8 | element lookup" in body["message"]
    [error] = body["details"]["broken.bpmn"]["errors"]
    assert error["line"] == 8 and error["mainElementId"] == "lookup" and error["elementIds"] == ["lookup"]
    assert body["details"]["broken.bpmn"]["warnings"] == []
    # Nothing was stored.
    assert camunda.get("/process-definition").json == []
    assert camunda.get("/deployment").json == []


def test_malformed_xml_is_a_parse_error_at_its_line(camunda: Camunda) -> None:
    lines = PAYMENT.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "<bpmn:serviceTask" in line)
    lines[at] = lines[at].replace("<bpmn:serviceTask", "<bpmn:serviceTask <")
    response = camunda.deploy(("payment.bpmn", "\n".join(lines).encode()))
    assert response.status_code == 400
    assert response.json["message"].startswith(PARSE_PREFIX)
    [error] = response.json["details"]["payment.bpmn"]["errors"]
    assert error["line"] == at + 1


def test_bad_deployment_requests_are_refused_with_nothing_stored(camunda: Camunda) -> None:
    nothing = camunda.deploy()
    assert nothing.status_code == 400 and nothing.json["type"] == "InvalidRequestException"
    assert "No deployment resources" in nothing.json["message"]
    image_only = camunda.deploy(("diagram.png", b"\x89PNG"))
    assert image_only.status_code == 400
    tenant = camunda.deploy(("payment.bpmn", PAYMENT.read_bytes()), **{"tenant-id": "acme"})
    assert tenant.status_code == 400 and "tenant" in tenant.json["message"]
    flag = camunda.deploy(("payment.bpmn", PAYMENT.read_bytes()), **{"deploy-changed-only": "maybe"})
    assert flag.status_code == 400
    as_json = camunda.post("/deployment/create", "dora", json={"deployment-name": "x"})
    assert as_json.status_code == 400 and "multipart" in as_json.json["message"]
    assert camunda.get("/deployment").json == []


def test_only_designers_deploy(camunda: Camunda) -> None:
    for role, who in PERSONAS.items():
        if role == "designer":
            continue
        response = camunda.deploy(("payment.bpmn", PAYMENT.read_bytes()), who=who)
        assert response.status_code == 403, role
        assert response.json["type"] == "AuthorizationException"
    assert camunda.get("/process-definition").json == []


def test_deployment_list_filters_sorts_and_pages(camunda: Camunda) -> None:
    camunda.deploy(("payment.bpmn", PAYMENT.read_bytes()), **{"deployment-name": "alpha"})
    camunda.clock.advance(timedelta(minutes=1))
    camunda.deploy(
        ("payment.bpmn", PAYMENT.read_bytes()), **{"deployment-name": "beta", "deployment-source": "script"}
    )
    names = [d["name"] for d in camunda.get("/deployment?sortBy=name&sortOrder=desc").json]
    assert names == ["beta", "alpha"]
    assert [d["name"] for d in camunda.get("/deployment?nameLike=alp").json] == ["alpha"]
    assert [d["name"] for d in camunda.get("/deployment?source=script").json] == ["beta"]
    paged = camunda.get("/deployment?sortBy=deploymentTime&sortOrder=asc&firstResult=1&maxResults=1").json
    assert [d["name"] for d in paged] == ["beta"]
    assert set(paged[0]) == {"links", "id", "name", "source", "deploymentTime", "tenantId"}
    after = camunda.get("/deployment", query_string={"after": "2026-01-05T09:00:30.000+0000"}).json
    assert [d["name"] for d in after] == ["beta"]
    assert camunda.get("/deployment?tenantIdIn=acme").json == []


BAD_LIST_PARAMETERS = [
    ("sortBy=name", "sortBy and sortOrder required"),
    ("sortBy=name&sortOrder=up", "sortOrder"),
    ("sortBy=colour&sortOrder=asc", "sortBy"),
    ("maxResults=-1", "maxResults"),
    ("firstResult=x", "firstResult"),
    ("after=yesterday", "after"),
    ("colour=red", "Unsupported query parameter 'colour'"),
]


def test_bad_list_parameters_get_400_naming_them(camunda: Camunda) -> None:
    for query, fragment in BAD_LIST_PARAMETERS:
        response = camunda.get(f"/deployment?{query}")
        assert response.status_code == 400, query
        assert response.json["type"] == "InvalidRequestException"
        assert fragment in response.json["message"], (query, response.json)


def test_unknown_deployment_and_unknown_paths(camunda: Camunda) -> None:
    missing = camunda.get("/deployment/no-such-id")
    assert missing.status_code == 404 and set(missing.json) == {"type", "message"}
    unknown = camunda.get("/job")
    assert unknown.status_code == 404 and unknown.json["type"] == "InvalidRequestException"
    wrong_method = camunda.get("/external-task/fetchAndLock")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
