"""Cases over HTTP: start, list with filters, show, cancel, suspend, resume, messages, incidents."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.rest_support import Rest, deployed, rest

__all__ = ["deployed", "rest"]


def test_start_shows_the_case_with_its_first_task(deployed: Rest) -> None:
    rest = deployed
    response = rest.post(
        "/instances",
        json={
            "process_key": "service_call",
            "business_key": "SC-1",
            "variables": {"customer_id": "C-7", "n": 2},
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/instances/{body['id']}")
    assert (body["status"], body["business_key"], body["started_by"]) == ("running", "SC-1", "alice")
    assert body["variables"] == {"customer_id": "C-7", "n": 2}
    [task] = body["tasks"]
    assert (task["element_id"], task["role"], task["priority"]) == ("record", "agent", 70)
    assert task["seconds_left"] == 4 * 3600

    shown = rest.get(f"/instances/{body['id']}", "audrey")
    assert shown.status_code == 200 and shown.json["tasks"][0]["id"] == task["id"]
    by_version = rest.post("/instances", json={"definition_id": body["definition_id"]})
    assert by_version.status_code == 201 and by_version.json["definition_id"] == body["definition_id"]


def test_start_refusals(deployed: Rest) -> None:
    rest = deployed
    assert rest.post("/instances", json={"process_key": "nothing"}).status_code == 404
    both = rest.post("/instances", json={"process_key": "service_call", "definition_id": "x"})
    assert both.status_code == 422 and both.json["errors"][0]["field"] == "process_key"
    assert rest.post("/instances", json={}).status_code == 422
    bad_vars = rest.post("/instances", json={"process_key": "service_call", "variables": {"_secret": 1}})
    assert bad_vars.status_code == 422
    assert rest.post("/instances", json={"process_key": "service_call", "variables": [1]}).status_code == 422
    assert rest.post("/instances", json={"process_key": "service_call", "extra": 1}).status_code == 422
    too_long = rest.post("/instances", json={"process_key": "service_call", "business_key": "x" * 256})
    assert too_long.status_code == 422
    assert rest.post("/instances", "audrey", json={"process_key": "service_call"}).status_code == 403
    assert rest.get("/instances").json["total"] == 0


def test_list_filters_sorting_and_paging(deployed: Rest) -> None:
    rest = deployed
    first = rest.start("SC-1", customer_id="C-1")
    rest.clock.advance(timedelta(hours=1))
    second = rest.start("SC-2", customer_id=42)
    rest.clock.advance(timedelta(hours=1))
    third = rest.start("SC-3", customer_id="C-1")
    assert (
        rest.post(f"/instances/{third['id']}/cancel", "sam", json={"reason": "duplicate"}).status_code == 200
    )
    assert rest.post(f"/instances/{second['id']}/suspend", "sam").status_code == 200

    def ids(query: str) -> list[str]:
        response = rest.get(f"/instances{query}")
        assert response.status_code == 200, response.json
        return [i["id"] for i in response.json["items"]]

    assert ids("") == [third["id"], second["id"], first["id"]]
    assert ids("?sort=started_at") == [first["id"], second["id"], third["id"]]
    assert ids("?status=cancelled") == [third["id"]]
    assert ids("?status=running&sort=business_key") == [first["id"], second["id"]]
    assert ids("?business_key=SC-2") == [second["id"]]
    assert ids("?customer=C-1") == [third["id"], first["id"]]
    assert ids("?customer=42") == [second["id"]]
    assert ids("?process_key=other") == []
    assert ids("?suspended=true") == [second["id"]]
    start = rest.clock.now() - timedelta(hours=2)
    window = f"?started_after={(start + timedelta(minutes=30)).isoformat().replace('+00:00', 'Z')}"
    assert ids(window) == [third["id"], second["id"]]
    assert ids(window + f"&started_before={(start + timedelta(minutes=90)).isoformat()}") == [second["id"]]
    page = rest.get("/instances?limit=1&offset=1").json
    assert (page["total"], [i["id"] for i in page["items"]]) == (3, [second["id"]])
    assert rest.get("/instances?status=sleeping").status_code == 400
    assert rest.get("/instances?started_after=yesterday").status_code == 400
    assert rest.get("/instances?sort=-started_at,nope").status_code == 400
    assert rest.get("/instances?limit=0").status_code == 400


def test_cancel_suspend_resume(deployed: Rest) -> None:
    rest = deployed
    case = rest.start("SC-1")
    path = f"/instances/{case['id']}"
    assert rest.post(f"{path}/suspend", "alice").status_code == 403
    suspended = rest.post(f"{path}/suspend", "sam")
    assert suspended.status_code == 200 and suspended.json["suspended"] is True
    assert rest.post(f"{path}/suspend", "sam").status_code == 409
    blocked = rest.complete_record(case)
    assert blocked.status_code == 409 and "suspended" in blocked.json["detail"]
    assert rest.post(f"{path}/resume", "dirk").json["suspended"] is False
    assert rest.post(f"{path}/resume", "dirk").status_code == 409

    cancelled = rest.post(f"{path}/cancel", "adam")
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["status"] == "cancelled" and cancelled.json["tasks"] == []
    assert rest.post(f"{path}/cancel", "adam", json={"reason": "again"}).status_code == 409
    assert rest.post("/instances/nope/cancel", "adam", json={}).status_code == 404
    assert rest.post("/instances/nope/suspend", "adam").status_code == 404
    history = rest.get(f"{path}/history").json["items"]
    case_events = [(e["type"], e["actor"]) for e in history if e["type"].startswith("instance_")]
    assert case_events == [
        ("instance_started", "alice"),
        ("instance_suspended", "sam"),
        ("instance_resumed", "dirk"),
        ("instance_cancelled", "adam"),
    ]
    assert rest.get("/instances/nope/history").status_code == 404


def test_message_correlation(deployed: Rest) -> None:
    rest = deployed
    instance_id, review = rest.to_review("SC-9")
    assert rest.post(f"/tasks/{review['id']}/complete", "sam", json={"data": {}}).status_code == 200
    missing = rest.post("/messages", json={"name": "customer_answer", "business_key": "SC-other"})
    assert missing.status_code == 404
    delivered = rest.post(
        "/messages", json={"name": "customer_answer", "business_key": "SC-9", "variables": {"happy": True}}
    )
    assert delivered.status_code == 200 and delivered.json == {"instance_ids": [instance_id]}
    done = rest.get(f"/instances/{instance_id}").json
    assert done["status"] == "completed" and done["variables"]["happy"] is True
    assert rest.post("/messages", json={"business_key": "SC-9"}).status_code == 422


def test_incident_is_listed_and_retried(deployed: Rest) -> None:
    rest = deployed
    case = rest.start("SC-1")
    assert rest.complete_record(case, severity=1).status_code == 200
    incidents = rest.get(f"/incidents?instance_id={case['id']}").json
    assert incidents["total"] == 1
    incident = incidents["items"][0]
    assert incident["element_id"] == "check" and "registry is down" in incident["message"]
    assert rest.get(f"/incidents/{incident['id']}").json == incident
    assert rest.get(f"/instances/{case['id']}").json["open_incidents"] == [incident]
    assert rest.get("/instances?with_incidents=true").json["total"] == 1

    assert rest.post(f"/incidents/{incident['id']}/retry", "alice").status_code == 403
    retried = rest.post(f"/incidents/{incident['id']}/retry", "sam")
    assert retried.status_code == 200
    assert (retried.json["state"], retried.json["resolved_by"]) == ("resolved", "sam")
    # The handler still fails (the variables did not change): a new incident opens.
    assert rest.get(f"/incidents?instance_id={case['id']}").json["total"] == 1
    assert rest.get(f"/incidents?instance_id={case['id']}&state=all").json["total"] == 2
    assert rest.get("/incidents?state=resolved").json["items"][0]["id"] == incident["id"]
    assert rest.post(f"/incidents/{incident['id']}/retry", "sam").status_code == 409
    assert rest.post("/incidents/nope/retry", "sam").status_code == 404
    assert rest.get("/incidents/nope").status_code == 404


def test_bpmn_error_from_a_handler_takes_the_boundary_path(deployed: Rest) -> None:
    rest = deployed
    case = rest.start("SC-1")
    assert rest.complete_record(case, severity=5).status_code == 200
    tasks = rest.get(f"/instances/{case['id']}").json["tasks"]
    assert [t["element_id"] for t in tasks] == ["declined"]


def test_a_case_failing_on_its_data_is_repaired_by_changing_a_variable(deployed: Rest) -> None:
    rest = deployed
    case = rest.start("SC-1")
    assert rest.complete_record(case, severity=1).status_code == 200  # the handler fails on severity 1
    [incident] = rest.get(f"/incidents?instance_id={case['id']}").json["items"]
    path = f"/instances/{case['id']}/variables"

    assert rest.patch(path, "alice", json={"set": {"severity": 2}}).status_code == 403
    assert rest.patch(path, "sam", json={"set": {"_x": 1}}).status_code == 422
    assert rest.patch(path, "sam", json={"remove": "severity"}).status_code == 422
    both = rest.patch(path, "sam", json={"set": {"severity": 2}, "remove": ["severity"]})
    assert both.status_code == 422 and "both set and removed" in both.json["detail"]
    assert rest.patch("/instances/nope/variables", "sam", json={"set": {"a": 1}}).status_code == 404

    changed = rest.patch(path, "sam", json={"set": {"severity": 2}})
    assert changed.status_code == 200, changed.json
    assert changed.json["variables"]["severity"] == 2
    assert rest.post(f"/incidents/{incident['id']}/retry", "sam").status_code == 200
    assert rest.get(f"/incidents?instance_id={case['id']}").json["total"] == 0  # no new incident
    assert rest.get(f"/instances/{case['id']}").json["variables"]["checked"] is True
    [event] = [e for e in rest.get(f"/instances/{case['id']}/history").json["items"]
               if e["type"] == "variables_changed"]
    assert (event["actor"], event["data"]["previous"]) == ("sam", {"severity": 1})
