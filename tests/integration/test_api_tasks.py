"""Tasks over HTTP: inboxes and filters, the task with form and deadline, and every command."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.integration.rest_support import Rest, deployed, rest

__all__ = ["deployed", "rest"]


def ids(rest: Rest, query: str, who: str) -> list[str]:
    response = rest.get(f"/tasks{query}", who)
    assert response.status_code == 200, response.json
    return [t["id"] for t in response.json["items"]]


def test_inboxes_and_filters(deployed: Rest) -> None:
    rest = deployed
    rest.add_user("hank", ["complaint_handler"])
    _, review_a = rest.to_review("A")
    rest.clock.advance(timedelta(minutes=10))
    _, review_b = rest.to_review("B")
    record = rest.start("C")["tasks"][0]

    assert ids(rest, "", "sam") == [review_a["id"], review_b["id"]]
    assert ids(rest, "", "alice") == [record["id"]]
    # hank is a candidate user of the review tasks, whatever his role.
    assert ids(rest, "?scope=claimable", "hank") == [review_a["id"], review_b["id"]]
    assert ids(rest, "", "fiona") == []
    assert rest.post(f"/tasks/{review_a['id']}/claim", "sam").status_code == 200
    assert ids(rest, "?scope=mine", "sam") == [review_a["id"]]
    assert ids(rest, "?scope=claimable", "sam") == [review_b["id"]]
    assert ids(rest, "?scope=inbox", "sam") == [review_a["id"], review_b["id"]]
    assert ids(rest, "?scope=claimable", "hank") == [review_b["id"]]
    # Priority first (record: 70, reviews: 50), then the oldest.
    assert ids(rest, "?scope=all", "audrey") == [record["id"], review_a["id"], review_b["id"]]
    assert ids(rest, "?scope=unassigned", "audrey") == [record["id"], review_b["id"]]
    assert ids(rest, "?scope=all&min_priority=60", "audrey") == [record["id"]]
    assert ids(rest, "?scope=all&role=service_manager&sort=-created_at", "audrey") == [
        review_b["id"],
        review_a["id"],
    ]
    assert ids(rest, "?scope=all&business_key=B", "audrey") == [review_b["id"]]
    assert ids(rest, "?scope=all&process_key=other", "audrey") == []
    assert ids(rest, f"?scope=all&instance_id={record['instance_id']}", "audrey") == [record["id"]]
    # Review tasks are due an hour after they open, the record task four hours.
    cutoff = (rest.clock.now() + timedelta(minutes=55)).isoformat().replace("+00:00", "Z")
    assert ids(rest, f"?scope=all&due_before={cutoff}", "audrey") == [review_a["id"]]
    assert ids(rest, "?scope=all&sort=due_at", "audrey") == [review_a["id"], review_b["id"], record["id"]]
    page = rest.get("/tasks?scope=all&limit=2&offset=2", "audrey").json
    assert page["total"] == 3 and len(page["items"]) == 1
    assert rest.get("/tasks?scope=everything").status_code == 400
    assert rest.get("/tasks?min_priority=high").status_code == 400
    # Valid date-times whose UTC time falls outside the years 1-9999.
    for moment in ("0001-01-01T00:00:00%2B01:00", "9999-12-31T23:59:59-01:00"):
        refused = rest.get(f"/tasks?scope=all&due_before={moment}", "audrey")
        assert refused.status_code == 400, moment
        assert [e["field"] for e in refused.json["errors"]] == ["due_before"], moment
        assert "outside the years 1 to 9999" in refused.json["errors"][0]["message"], moment


def test_task_shows_its_form_and_deadline(deployed: Rest) -> None:
    rest = deployed
    record = rest.start("A", customer_id="C-1")["tasks"][0]
    rest.clock.advance(timedelta(hours=1))
    shown = rest.get(f"/tasks/{record['id']}")
    assert shown.status_code == 200
    task = shown.json
    assert task["seconds_left"] == 3 * 3600
    assert task["due_at"].startswith((rest.clock.now() + timedelta(hours=3)).isoformat()[:19])
    form = task["form"]
    assert form["id"] == "intake"
    assert [(f["key"], f["required"]) for f in form["fields"]] == [
        ("customer", True),
        ("severity", True),
        ("channel", False),
    ]
    assert form["fields"][2]["options"] == [
        {"value": "phone", "label": "Phone"},
        {"value": "web", "label": "Web"},
    ]
    assert rest.get("/tasks/nope").status_code == 404


def test_complete_validates_the_form_field_by_field(deployed: Rest) -> None:
    rest = deployed
    case = rest.start("A")
    task_id = case["tasks"][0]["id"]
    refused = rest.post(f"/tasks/{task_id}/complete", json={"data": {"severity": 9, "channel": "fax"}})
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert {e["field"] for e in refused.json["errors"]} == {"customer", "severity", "channel"}
    assert rest.get(f"/instances/{case['id']}").json["tasks"][0]["id"] == task_id
    assert rest.post(f"/tasks/{task_id}/complete", json={"data": "yes"}).status_code == 422

    done = rest.post(f"/tasks/{task_id}/complete", json={"data": {"customer": "ACME", "severity": 3}})
    assert done.status_code == 200
    assert (done.json["task"]["state"], done.json["task"]["ended_by"]) == ("completed", "alice")
    assert [t["element_id"] for t in done.json["instance"]["tasks"]] == ["review"]
    assert done.json["instance"]["variables"]["checked"] is True
    again = rest.post(f"/tasks/{task_id}/complete", json={"data": {"customer": "ACME", "severity": 3}})
    assert again.status_code == 409
    assert rest.post("/tasks/nope/complete", json={}).status_code == 404


def test_complete_refuses_a_number_no_form_holds_at_once(deployed: Rest) -> None:
    rest = deployed
    case = rest.start("A")
    task_id = case["tasks"][0]["id"]
    started = time.monotonic()
    refused = rest.post(
        f"/tasks/{task_id}/complete", json={"data": {"customer": "ACME", "severity": "1e1000000"}}
    )
    assert time.monotonic() - started < 5
    assert refused.status_code == 422
    assert refused.json["errors"] == [
        {
            "field": "severity",
            "message": "Severity is too large a number (at most 19 digits before the decimal point)",
        }
    ]
    assert rest.get(f"/instances/{case['id']}").json["tasks"][0]["id"] == task_id


def test_claim_unclaim_assign_delegate(deployed: Rest) -> None:
    rest = deployed
    rest.add_user("sue", ["service_manager"])
    _, review = rest.to_review("A")
    path = f"/tasks/{review['id']}"

    assert rest.post(f"{path}/claim", "alice").status_code == 403
    claimed = rest.post(f"{path}/claim", "sam")
    assert claimed.status_code == 200 and claimed.json["assignee"] == "sam"
    assert rest.post(f"{path}/claim", "sue").status_code == 409
    # Claimed by sam: sue, though of the role, may not complete it.
    assert rest.post(f"{path}/complete", "sue", json={}).status_code == 403
    assert rest.post(f"{path}/unclaim", "sue").status_code == 409
    assert rest.post(f"{path}/unclaim", "sam").json["assignee"] is None

    assigned = rest.post(f"{path}/assign", "dirk", json={"assignee": "sue"})
    assert assigned.status_code == 200 and assigned.json["assignee"] == "sue"
    assert rest.post(f"{path}/assign", "dirk", json={"assignee": "ghost"}).status_code == 422
    assert rest.post(f"{path}/assign", "dirk", json={}).status_code == 422
    assert rest.post(f"{path}/assign", "alice", json={"assignee": "alice"}).status_code == 403

    delegated = rest.post(f"{path}/delegate", "sue", json={"to": "sam"})
    assert delegated.status_code == 200
    assert (delegated.json["assignee"], delegated.json["owner"]) == ("sam", "sue")
    assert rest.post(f"{path}/delegate", "sue", json={"to": "alice"}).status_code == 403
    assert rest.post(f"{path}/delegate", "sam", json={"to": "nobody"}).status_code == 422

    done = rest.post(f"{path}/complete", "sam", json={"data": {}})
    assert done.status_code == 200
    types = [e["type"] for e in rest.get(f"/instances/{review['instance_id']}/history").json["items"]]
    for expected in ("task_claimed", "task_unclaimed", "task_assigned", "task_delegated", "task_completed"):
        assert expected in types
    assert rest.post(f"{path}/claim", "sam").status_code == 409


def test_a_candidate_user_completes_an_unclaimed_task(deployed: Rest) -> None:
    rest = deployed
    rest.add_user("hank", ["complaint_handler"])
    _, review = rest.to_review("A")
    assert rest.post(f"/tasks/{review['id']}/complete", "carl", json={}).status_code == 403
    assert rest.post(f"/tasks/{review['id']}/complete", "hank", json={}).status_code == 200


def test_an_admin_does_not_do_other_peoples_work(deployed: Rest) -> None:
    rest = deployed
    record = rest.start("A")["tasks"][0]
    refused = rest.post(
        f"/tasks/{record['id']}/complete", "adam", json={"data": {"customer": "x", "severity": 2}}
    )
    assert refused.status_code == 403 and "agent" in refused.json["detail"]
    assert rest.post(f"/tasks/{record['id']}/claim", "audrey").status_code == 403
