"""Definitions over HTTP: deploy with the validation report, versions, listing, XML download."""

from __future__ import annotations

import io

from tests.conftest import FIXTURES
from tests.integration.rest_support import SERVICE_BPMN, Reply, Rest, deployed, rest

__all__ = ["deployed", "rest"]

BROKEN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="broken" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="t1"/>
    <bpmn:exclusiveGateway id="gw"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t1"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="gw"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="t1">
      <bpmn:conditionExpression>x ==</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""
NOT_WELL_FORMED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="broken" isExecutable="true">
    <bpmn:startEvent id="start">
  </bpmn:process>
</bpmn:definitions>
"""


def upload(rest: Rest, files: list[tuple[bytes, str]], who: str = "dora", **fields: str) -> Reply:
    data = {"files": [(io.BytesIO(content), name) for content, name in files], **fields}
    return rest.post("/deployments", who, data=data, content_type="multipart/form-data")


def test_deploy_versions_and_download(rest: Rest) -> None:
    first = rest.deploy(SERVICE_BPMN, name="Service call v1")
    assert first.status_code == 201, first.json
    report = first.json
    assert report["name"] == "Service call v1" and report["warnings"] == []
    [definition] = report["definitions"]
    assert (definition["key"], definition["version"], definition["new"]) == ("service_call", 1, True)

    unchanged = rest.deploy(SERVICE_BPMN)
    assert unchanged.status_code == 200
    assert unchanged.json["deployment_id"] is None and unchanged.json["definitions"][0]["new"] is False
    forced = rest.deploy(SERVICE_BPMN, changed_only="false")
    assert forced.status_code == 201 and forced.json["definitions"][0]["version"] == 2

    both = rest.deploy(FIXTURES / "case.bpmn", FIXTURES / "child.bpmn")
    assert both.status_code == 201
    listed = rest.get("/definitions").json
    assert [(d["key"], d["version"]) for d in listed["items"]] == [
        ("case", 1),
        ("child", 1),
        ("service_call", 1),
        ("service_call", 2),
    ]
    latest = rest.get("/definitions?latest=true&sort=-key").json
    assert [(d["key"], d["version"]) for d in latest["items"]] == [
        ("service_call", 2),
        ("child", 1),
        ("case", 1),
    ]
    assert rest.get("/definitions?key=case").json["total"] == 1
    page = rest.get("/definitions?limit=2&offset=2").json
    assert (page["total"], page["offset"], page["limit"], len(page["items"])) == (4, 2, 2, 2)

    versions = rest.get("/processes/service_call/versions").json
    assert [d["version"] for d in versions["items"]] == [2, 1]
    assert rest.get("/processes/nothing/versions").status_code == 404

    shown = rest.get(f"/definitions/{definition['id']}")
    assert shown.status_code == 200 and shown.json["resource"] == "api_service.bpmn"
    xml = rest.get(f"/definitions/{definition['id']}/xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert xml.data == SERVICE_BPMN.read_bytes()
    assert rest.get("/definitions/nope").status_code == 404
    assert rest.get("/definitions/nope/xml").status_code == 404
    deploys = rest.engine.queries.history(event_type="deployed")
    assert [e["actor"] for e in deploys] == ["dora", "dora", "dora"]


def test_deploy_with_an_uploaded_form(rest: Rest) -> None:
    form = (FIXTURES / "forms" / "intake.form").read_bytes().replace(b'"Customer"', b'"Customer name"')
    response = upload(rest, [(SERVICE_BPMN.read_bytes(), "api_service.bpmn"), (form, "intake.form")])
    assert response.status_code == 201, response.json
    instance = rest.start()
    task = rest.get(f"/tasks/{instance['tasks'][0]['id']}").json
    assert task["form"]["fields"][0]["label"] == "Customer name"


def test_a_broken_diagram_is_refused_with_every_problem_and_nothing_is_stored(rest: Rest) -> None:
    response = upload(rest, [(BROKEN, "broken.bpmn"), (SERVICE_BPMN.read_bytes(), "api_service.bpmn")])
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    [problem] = response.json["problems"]
    assert (problem["file"], problem["line"], problem["element_id"]) == ("broken.bpmn", 10, "f3")
    assert "Condition" in problem["message"] and "Condition" in response.json["detail"]
    syntax = upload(rest, [(NOT_WELL_FORMED, "syntax.bpmn")])
    assert syntax.status_code == 422
    assert [(p["file"], p["line"], p["code"]) for p in syntax.json["problems"]] == [("syntax.bpmn", 5, "xml")]
    assert rest.get("/definitions").json["total"] == 0

    garbage = upload(rest, [(b"\x00\x01 not xml", "x.bpmn")])
    assert garbage.status_code == 422
    not_utf8 = upload(rest, [("<?xml version='1.0'?><a>é</a>".encode("latin-1"), "latin.bpmn")])
    assert not_utf8.status_code == 422 and "UTF-8" in not_utf8.json["errors"][0]["message"]
    wrong_type = upload(rest, [(b"hello", "notes.txt")])
    assert wrong_type.status_code == 422 and "notes.txt" in wrong_type.json["errors"][0]["message"]
    only_forms = upload(rest, [(b"{}", "x.form")])
    assert only_forms.status_code == 422
    assert rest.post("/deployments", "dora", json={"files": []}).status_code == 415
    assert upload(rest, [(SERVICE_BPMN.read_bytes(), "a.bpmn")], changed_only="maybe").status_code == 422


def test_only_designers_deploy(rest: Rest) -> None:
    for who in ("alice", "adam", "audrey", "sam"):
        assert rest.deploy(SERVICE_BPMN, who=who).status_code == 403, who
    assert rest.get("/definitions").json["total"] == 0
    assert rest.deploy(SERVICE_BPMN, who="dora").status_code == 201


def test_paths_sent_as_file_names_keep_only_the_name(deployed: Rest) -> None:
    response = upload(deployed, [(SERVICE_BPMN.read_bytes(), "models/v2/api_service.bpmn")], changed_only="0")
    assert response.status_code == 201
    assert response.json["definitions"][0]["resource"] == "api_service.bpmn"
