"""The case page (status, data, open tasks, incidents, the verified history), the case list, and
starting a case; auditors see everything and are offered no button."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import update

from engine.models import HistoryEvent
from tests.integration.pages_support import Site, site, text

__all__ = ["site"]


def _posting_forms(page: str) -> list[str]:
    """Every form that changes something, but the sign-out form of the header."""
    actions = re.findall(r'<form method="post" action="([^"]+)"', page)
    return [a for a in actions if a != "/logout"]


def test_the_case_page_shows_everything_about_a_case(site: Site) -> None:
    case = site.start("CASE-1", customer_id="CUST-1")
    alice = site.browser("alice")
    record = site.open_task(case["id"], "record")
    alice.post(f"/tasks/{record['id']}", {"customer": "ACME", "severity": "3", "channel": "phone"})

    page = text(site.browser("sam").get(f"/cases/{case['id']}"))
    assert "Case CASE-1" in page and "running" in page
    assert "Review call" in page  # the open task
    assert "customer_id" in page and "CUST-1" in page and "ACME" in page  # the case data
    history = page.split('id="history-title"', 1)[1]
    for label in (
        "Instance started",
        "Task created",
        "Task completed",
        "Handler called",
        "Handler completed",
    ):
        assert label in history, label
    assert "by alice" in history and "&#34;severity&#34;: 3" in history
    assert re.search(r"Verified: all \d+ events re-hash", page)
    assert "history intact" in page


def test_an_altered_event_shows_as_a_broken_chain(site: Site) -> None:
    case = site.start("CASE-2")
    with site.engine.db.transaction() as conn:
        conn.execute(
            update(HistoryEvent)
            .where(HistoryEvent.instance_id == case["id"], HistoryEvent.event_type == "instance_started")
            .values(actor="mallory")
        )
    page = text(site.browser("audrey").get(f"/cases/{case['id']}"))
    assert "history altered" in page and "The history chain is broken" in page and "hash" in page


def test_incidents_are_retried_by_managers_only(site: Site) -> None:
    case = site.start("CASE-3")
    record = site.open_task(case["id"], "record")
    # Severity 1: the check handler fails ("the customer registry is down") and, with no
    # retries left, the case shows an incident.
    site.browser("alice").post(f"/tasks/{record['id']}", {"customer": "ACME", "severity": "1"})
    [incident] = site.engine.queries.incidents(instance_id=case["id"])
    url = f"/cases/{case['id']}"

    for who in ("alice", "audrey"):
        page = text(site.browser(who).get(url))
        assert "the customer registry is down" in page and "Retry the failed step" not in page, who
    assert site.browser("alice").post(f"/incidents/{incident['id']}/retry").status_code == 403
    assert site.browser("audrey").post(f"/incidents/{incident['id']}/retry").status_code == 403

    for who in ("sam", "adam"):
        assert "Retry the failed step" in text(site.browser(who).get(url)), who
    retried = site.browser("sam").post(f"/incidents/{incident['id']}/retry")
    assert retried.status_code == 303 and retried.headers["Location"] == url
    events = [
        e for e in site.engine.queries.history(instance_id=case["id"]) if e["type"] == "incident_resolved"
    ]
    assert [e["actor"] for e in events] == ["sam"]
    # The handler still fails: a new incident is open, the first one resolved by sam.
    assert site.engine.queries.incident(incident["id"])["resolved_by"] == "sam"


def test_auditors_see_every_page_and_no_button(site: Site) -> None:
    case = site.start("AUDIT-1")
    record = site.open_task(case["id"], "record")
    audrey = site.browser("audrey")
    for path in (
        "/cases",
        f"/cases/{case['id']}",
        f"/tasks/{record['id']}",
        "/alarms",
        "/designer",
        "/inbox",
    ):
        response = audrey.get(path)
        assert response.status_code == 200, path
        assert _posting_forms(text(response)) == [], path
    assert audrey.get("/start").status_code == 403
    assert audrey.post("/start", {"process": "service_call"}).status_code == 403
    assert audrey.post(f"/cases/{case['id']}/suspend").status_code == 403
    assert site.engine.queries.count_instances() == 1


def test_managers_suspend_resume_and_cancel_cases(site: Site) -> None:
    case = site.start("MANAGE-1")
    url = f"/cases/{case['id']}"
    assert "Suspend" not in text(site.browser("alice").get(url))
    assert site.browser("alice").post(f"{url}/suspend").status_code == 403
    sam = site.browser("sam")
    assert sam.post(f"{url}/suspend").status_code == 303
    assert "suspended" in text(sam.get(url)) and "Resume" in text(sam.get(url))
    record = site.open_task(case["id"], "record")
    task_page = text(site.browser("alice").get(f"/tasks/{record['id']}"))
    assert "The case is suspended" in task_page and "Complete task" not in task_page
    assert sam.post(f"{url}/resume").status_code == 303
    assert sam.post(f"{url}/cancel", {"reason": "duplicate"}).status_code == 303
    found = site.engine.queries.instance(case["id"])
    assert found["status"] == "cancelled"
    cancelled = [
        e for e in site.engine.queries.history(instance_id=case["id"]) if e["type"] == "instance_cancelled"
    ]
    assert cancelled[0]["data"] == {"reason": "duplicate"}


def test_the_case_list_filters_and_shows_customers(site: Site) -> None:
    site.start("LIST-1", customer_id="CUST-1", customer_name="Harbour Hotel")
    site.start("LIST-2", customer_id="CUST-2")
    audrey = site.browser("audrey")
    page = text(audrey.get("/cases"))
    assert "LIST-1" in page and "LIST-2" in page and "Harbour Hotel" in page
    only = text(audrey.get("/cases?customer=CUST-2"))
    assert "LIST-2" in only and "LIST-1" not in only
    assert "LIST-1" in text(audrey.get("/cases?business_key=LIST-1&status=running&process=service_call"))
    assert "No case matches" in text(audrey.get("/cases?status=completed"))
    assert audrey.get("/cases?status=lost").status_code == 422


def test_starting_a_case_opens_its_first_task(site: Site) -> None:
    alice = site.browser("alice")
    page = text(alice.get("/start"))
    assert 'value="service_call"' in page and "Service call" in page
    started = alice.post(
        "/start",
        {
            "process": "service_call",
            "business_key": "START-1",
            "name": ["customer_id", "vip", ""],
            "value": ["CUST-9", "true", ""],
        },
    )
    assert started.status_code == 303 and started.headers["Location"].startswith("/tasks/")
    [case] = site.engine.queries.instances(business_key="START-1")
    variables = site.engine.queries.instance(case["id"])["variables"]
    assert variables["customer_id"] == "CUST-9" and variables["vip"] is True
    assert case["started_by"] == "alice"
    assert "Case START-1 started." in text(alice.get(started.headers["Location"]))


def test_a_refused_start_says_why_and_starts_nothing(site: Site) -> None:
    alice = site.browser("alice")
    bad = alice.post(
        "/start", {"process": "service_call", "name": ["1st", "a", "a"], "value": ["x", "1", "2"]}
    )
    assert bad.status_code == 422
    body = text(bad)
    assert "&#39;1st&#39; is not a variable name" in body and "a is given twice" in body
    assert 'value="1st"' in body
    assert alice.post("/start", {"business_key": "X"}).status_code == 422
    unknown = alice.post("/start", {"process": "no_such_process"})
    assert unknown.status_code == 404
    assert site.engine.queries.count_instances() == 0


def test_a_variable_no_case_can_hold_is_refused_on_its_row(site: Site) -> None:
    alice = site.browser("alice")
    for value, reason in (
        ("NaN", "row 2: NaN is not a number JSON allows"),
        ("[1, Infinity]", "row 2: Infinity is not a number JSON allows"),
        ("1e400", "row 2: 1e400 is too large a number"),
        ("[" * 500 + "]" * 500, "row 2: the value is nested too deeply"),
        ("[" * 5000 + "]" * 5000, "row 2: the value is nested too deeply"),
    ):
        refused = alice.post(
            "/start",
            {"process": "service_call", "name": ["customer_id", "x"], "value": ["CUST-9", value]},
        )
        assert refused.status_code == 422, value
        assert reason in text(refused), value
    assert site.engine.queries.count_instances() == 0
    deep = "[" * 64 + "]" * 64
    started = alice.post("/start", {"process": "service_call", "name": ["x"], "value": [deep]})
    assert started.status_code == 303


def test_nul_characters_in_the_address_or_a_form_get_a_400_page_and_change_nothing(site: Site) -> None:
    case = site.start("NUL-1")
    task = site.open_task(case["id"], "record")
    alice = site.browser("alice")
    assert alice.post(f"/tasks/{task['id']}/claim").status_code == 303
    refusals = [
        (alice.get("/cases/%00"), "instance_id"),
        (alice.get("/tasks/a%00b"), "task_id"),
        (alice.get("/cases?business_key=NUL%00"), "business_key"),
        (alice.get("/login?next=/cases%00"), "next"),
        (alice.post("/start", {"process": "service_call\x00", "business_key": "NUL-2"}), "process"),
        (alice.post(f"/tasks/{task['id']}/delegate", {"to": "sam\x00"}), "to"),
        (alice.post(f"/cases/{case['id']}/cancel", {"reason": "gone\x00"}), "reason"),
    ]
    for response, field in refusals:
        assert response.status_code == 400, field
        assert response.mimetype == "text/html"
        assert f"{field} must not contain NUL characters" in text(response), field
    assert [c["business_key"] for c in site.engine.queries.instances()] == ["NUL-1"]
    row = site.engine.queries.task(task["id"])
    assert (row["assignee"], row["owner"]) == ("alice", None)
    assert site.engine.queries.instance(case["id"])["status"] != "cancelled"


def test_a_manager_repairs_the_data_a_case_failed_on_then_retries(site: Site) -> None:
    case = site.start("CASE-9")
    record = site.open_task(case["id"], "record")
    site.browser("alice").post(f"/tasks/{record['id']}", {"customer": "ACME", "severity": "1"})
    [incident] = site.engine.queries.incidents(instance_id=case["id"])
    url = f"/cases/{case['id']}"
    assert "Change case data" not in text(site.browser("alice").get(url))
    fix = {"name": "severity", "value": "2"}
    for who in ("alice", "audrey"):
        assert site.browser(who).post(f"{url}/variables", fix).status_code == 403

    sam = site.browser("sam")
    assert "Change case data" in text(sam.get(url))
    refused = sam.post(f"{url}/variables", {"name": "severity", "value": "NaN", "action": "set"})
    assert refused.status_code == 422 and "NaN" in text(refused)
    assert sam.post(f"{url}/variables", {"name": "", "value": "2"}).status_code == 422
    changed = sam.post(f"{url}/variables", {"name": "severity", "value": "2", "action": "set"})
    assert changed.status_code == 303 and changed.headers["Location"] == url
    assert "severity is now 2." in text(sam.get(url))
    # A long value is shortened in the confirmation: it travels in the cookie, dropped past 4 KB.
    note = secrets.token_hex(2500)  # random: the session cookie is compressed
    long_note = sam.post(f"{url}/variables", {"name": "note", "value": note, "action": "set"})
    assert long_note.status_code == 303 and len(long_note.headers.get("Set-Cookie", "")) < 4000
    assert site.engine.queries.instance(case["id"])["variables"]["note"] == note
    removed = sam.post(f"{url}/variables", {"name": "customer", "action": "remove"})
    assert removed.status_code == 303
    assert site.engine.queries.instance(case["id"])["variables"]["severity"] == 2
    assert "customer" not in site.engine.queries.instance(case["id"])["variables"]

    assert sam.post(f"/incidents/{incident['id']}/retry").status_code == 303
    assert site.engine.queries.incidents(instance_id=case["id"]) == []  # the step ran and passed
    changes = site.engine.queries.history(instance_id=case["id"], event_type="variables_changed")
    assert [(e["actor"], e["data"]["previous"]) for e in changes] == [
        ("sam", {"severity": 1}), ("sam", {}), ("sam", {"customer": "ACME"}),
    ]
