"""The inbox and the task page: who sees which task and button, the form drawn from the engine's
form model, a refused submission shown field by field, and claim / unclaim / delegate / complete."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.integration.pages_support import Site, site, text

__all__ = ["site"]


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr[ >].*?</tr>", body, re.DOTALL)


def test_the_inbox_lists_my_and_my_roles_tasks_with_case_customer_and_time_left(site: Site) -> None:
    case = site.start("INB-1", customer_id="CUST-7", customer_name="Harbour Hotel")
    site.start("INB-2")
    alice = site.browser("alice")
    page = text(alice.get("/inbox"))
    rows = _rows(page)
    assert len(rows) == 2
    first = next(r for r in rows if "INB-1" in r)
    assert "Record call" in first and "service call" in first
    assert "Harbour Hotel" in first and "CUST-7" in first
    assert "High" in first  # camunda:priority="70"
    assert "4 h left" in first and "row-overdue" not in first
    assert "Claim" in first

    # Someone else's role: the service manager sees none of these.
    assert _rows(text(site.browser("sam").get("/inbox"))) == []
    # An auditor's inbox is empty and offers no buttons.
    assert "Claim" not in text(site.browser("audrey").get("/inbox"))

    site.clock.advance(timedelta(hours=5))
    late = next(r for r in _rows(text(alice.get("/inbox"))) if "INB-1" in r)
    assert "row-overdue" in late and "overdue by 1 h" in late
    task = site.open_task(case["id"], "record")
    assert f"/tasks/{task['id']}" in late


def test_the_inbox_filters_by_process_and_view_and_pages(site: Site) -> None:
    for number in range(27):
        site.start(f"PAGE-{number:02d}")
        site.clock.advance(timedelta(minutes=1))
    alice = site.browser("alice")
    first = text(alice.get("/inbox?sort=newest"))
    assert len(_rows(first)) == 25 and "Page 1 of 2" in first and 'rel="next"' in first
    second = text(alice.get("/inbox?sort=newest&page=2"))
    assert len(_rows(second)) == 2 and "PAGE-00" in second and "PAGE-01" in second
    assert _rows(text(alice.get("/inbox?process=service_call&view=mine"))) == []
    claimable = alice.get("/inbox?view=claimable&process=service_call")
    assert len(_rows(text(claimable))) == 25

    bad_page = alice.get("/inbox?page=0")
    assert bad_page.status_code == 422 and "page" in text(bad_page)
    unknown = alice.get("/inbox?process=nothing_like_it")
    assert unknown.status_code == 422 and "nothing_like_it" in text(unknown)


def test_a_refused_submission_shows_each_fields_problem_and_keeps_what_was_typed(site: Site) -> None:
    case = site.start("FORM-1")
    task = site.open_task(case["id"], "record")
    alice = site.browser("alice")
    page = text(alice.get(f"/tasks/{task['id']}"))
    assert 'name="customer"' in page and "required" in page
    assert 'type="number"' in page and 'min="1"' in page and 'max="5"' in page
    assert '<option value="phone">Phone</option>' in page
    assert "Complete task" in page

    refused = alice.post(f"/tasks/{task['id']}", {"customer": "", "severity": "9", "channel": "fax"})
    assert refused.status_code == 422
    body = text(refused)
    assert "The form was not accepted" in body
    assert "Customer is required" in body
    assert "Severity must be at most 5" in body
    assert "&#39;fax&#39; is not one of the options" in body
    assert 'value="9"' in body  # what was typed stays
    assert site.engine.queries.task(task["id"])["state"] == "open"

    done = alice.post(f"/tasks/{task['id']}", {"customer": "ACME", "severity": "3", "channel": "web"})
    assert done.status_code == 303 and done.headers["Location"] == "/inbox"
    assert "Record call is done." in text(alice.get("/inbox"))
    variables = site.engine.queries.instance(case["id"])["variables"]
    assert (variables["customer"], variables["severity"], variables["channel"]) == ("ACME", 3, "web")
    review = site.open_task(case["id"], "review")
    assert "Review call" in text(site.browser("sam").get("/inbox"))
    assert review["role"] == "service_manager"


def test_claim_unclaim_and_delegate_follow_the_engines_rules(site: Site) -> None:
    case = site.start("CLAIM-1")
    task = site.open_task(case["id"], "record")
    url = f"/tasks/{task['id']}"
    alice, sam, audrey = site.browser("alice"), site.browser("sam"), site.browser("audrey")

    assert "Claim this task" in text(alice.get(url))
    for other in (sam, audrey):
        page = text(other.get(url))
        assert "Claim this task" not in page and "Complete task" not in page
        assert "You can read this task but not work on it" in page
    assert sam.post(f"{url}/claim").status_code == 403
    refused = audrey.post(url, {"customer": "X", "severity": "2"})
    assert refused.status_code == 403 and "auditor" in text(refused)

    claimed = alice.post(f"{url}/claim")
    assert claimed.status_code == 303 and claimed.headers["Location"] == url
    page = text(alice.get(url))
    assert "assigned to alice" in page and "Give back to agent" in page and "Delegate" in page
    assert site.engine.queries.task(task["id"])["assignee"] == "alice"

    unknown = alice.post(f"{url}/delegate", {"to": "nobody"})
    assert unknown.status_code == 422 and "No active user named" in text(unknown)
    delegated = alice.post(f"{url}/delegate", {"to": "sam"})
    assert delegated.status_code == 303
    row = site.engine.queries.task(task["id"])
    assert (row["assignee"], row["owner"]) == ("sam", "alice")
    assert "delegated by alice" in text(sam.get(url))
    assert "Complete task" in text(sam.get(url))  # the delegate works on it now

    assert sam.post(f"{url}/unclaim").status_code == 303
    assert site.engine.queries.task(task["id"])["assignee"] is None
    events = [e["type"] for e in site.engine.queries.history(instance_id=case["id"])]
    assert {"task_claimed", "task_delegated", "task_unclaimed"} <= set(events)


def test_a_completed_task_shows_who_completed_it_and_offers_nothing(site: Site) -> None:
    case = site.start("DONE-1")
    task = site.open_task(case["id"], "record")
    alice = site.browser("alice")
    alice.post(f"/tasks/{task['id']}", {"customer": "ACME", "severity": "3"})
    page = text(alice.get(f"/tasks/{task['id']}"))
    assert "This task is completed" in page and "By alice" in page and "Complete task" not in page
    again = alice.post(f"/tasks/{task['id']}", {"customer": "ACME", "severity": "3"})
    assert again.status_code in (400, 409) and "Record call" in text(again)
    review = site.open_task(case["id"], "review")
    steps = text(site.browser("sam").get(f"/tasks/{review['id']}")).split("Earlier steps", 1)[1]
    assert "Record call" in steps and "alice" in steps and "ACME" in steps


def test_an_unknown_task_is_a_readable_404(site: Site) -> None:
    response = site.browser("alice").get("/tasks/no-such-task")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "No task with id" in text(response)
