"""Every kind of form-js field on the task page: drawn with its constraints, filled from the case,
posted back as the typed values the engine validates, with conditions, lists and text blocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.actors import Actor
from tests.integration.pages_support import PAGES_FORM_BPMN, Browser, Site, site, text

__all__ = ["site"]

PARTS = [{"label": "Drain pump", "value": "P-1"}, {"label": "Door seal", "value": "P-2"}]
GOOD = {
    "reference": "AB-12",
    "email": "",
    "notes": "",
    "hours": "1.5",
    "channel": "web",
    "level": "2",
    "reached": "yes",
    "outcome": "Fixed on the phone",
    "urgent": "true",
    "parts": ["P-1", "P-2"],
    "visit_at": "2026-03-02T14:30",
    "visit_day": "2026-03-03",
    "address.city": "Hangzhou",
    "items[0].sku": "SKU-1",
    "items[0].qty": "2",
    "items[1].sku": "",
    "items[1].qty": "",
}


@pytest.fixture
def form_task(site: Site) -> tuple[Site, Browser, str, str]:
    assert site.rest.deploy(PAGES_FORM_BPMN).status_code == 201
    instance_id = site.engine.runtime.start(
        actor=Actor.person("alice", ["agent"]),
        process_key="pages_form",
        business_key="EVERY-1",
        variables={"order_no": "R-77", "customer": {"name": "Li <Wei>"}, "part_options": PARTS},
    )
    task = site.open_task(instance_id, "fill")
    return site, site.browser("alice"), f"/tasks/{task['id']}", instance_id


def test_every_field_is_drawn_with_its_constraints(form_task: tuple[Site, Browser, str, str]) -> None:
    _site, alice, url, _case = form_task
    page = text(alice.get(url))
    # Text blocks: Markdown, templates filled, HTML in the text and in the data escaped.
    assert "<h2>Order R-77</h2>" in page
    assert "<strong>Customer:</strong> Li &lt;Wei&gt;" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-entry="text-1" hidden' in page  # "no order number yet" is hidden: there is one
    assert page.index("Order R-77") < page.index('name="reference"') < page.index("Check everything")
    assert page.index("Check everything") < page.index('name="items[0].sku"')
    # The read-only field shows its value and has no input.
    assert 'name="order_no"' not in page and ">R-77</p>" in page
    reference = _tag(page, 'name="reference"')
    assert (
        "required" in reference and 'maxlength="20"' in reference and 'pattern="[A-Z]{2}-\\d+"' in reference
    )
    assert 'aria-describedby="f-reference-desc"' in reference and "Two letters, a dash, digits." in page
    assert 'type="email"' in _tag(page, 'name="email"')
    assert 'minlength="5"' in _tag(page, 'name="notes"')
    hours = _tag(page, 'name="hours"')
    assert all(a in hours for a in ('type="number"', 'min="0.25"', 'max="200"', 'step="0.01"', "required"))
    assert '<option value="2">Two</option>' in page
    assert _tag(page, 'value="yes"').count("required") == 1
    # "Outcome" shows only once the customer was reached: hidden and disabled until then.
    assert 'data-entry="f-outcome" hidden' in page and "disabled" in _tag(page, 'name="outcome"')
    assert 'type="checkbox"' in _tag(page, 'name="urgent"')
    assert 'value="P-1"' in page and "Drain pump" in page and "Door seal" in page  # valuesKey
    assert 'type="datetime-local"' in _tag(page, 'name="visit_at"')
    assert 'type="date"' in _tag(page, 'name="visit_day"')
    assert 'name="address.city"' in page
    assert 'name="items[0].qty"' in page and 'name="items[1].sku"' not in page
    assert 'name="_add_row" value="items"' in page


def _tag(page: str, marker: str) -> str:
    at = page.index(marker)
    return page[page.rindex("<", 0, at) : page.index(">", at) + 1]


def test_a_completed_form_stores_typed_values(form_task: tuple[Site, Browser, str, str]) -> None:
    site, alice, url, case = form_task
    done = alice.post(url, GOOD)
    assert done.status_code == 303, text(done)
    variables: dict[str, Any] = site.engine.queries.instance(case)["variables"]
    assert variables["reference"] == "AB-12"
    assert variables["hours"] == 1.5 and variables["level"] == 2
    assert variables["urgent"] is True and variables["parts"] == ["P-1", "P-2"]
    # Office time (Asia/Shanghai by default) with its offset, as form-js's utc_offset writes it.
    assert variables["visit_at"] == "2026-03-02T14:30+08:00"
    assert variables["visit_day"] == "2026-03-03"
    assert variables["address"] == {"city": "Hangzhou"}
    assert variables["items"] == [{"sku": "SKU-1", "qty": 2}]  # the empty row is dropped
    assert variables["order_no"] == "R-77"  # read-only: kept as it was


def test_a_hidden_field_is_neither_required_nor_stored(form_task: tuple[Site, Browser, str, str]) -> None:
    site, alice, url, case = form_task
    posted = {**GOOD, "reached": "no", "outcome": "typed, then hidden"}
    assert alice.post(url, posted).status_code == 303
    assert "outcome" not in site.engine.queries.instance(case)["variables"]


def test_refused_fields_are_marked_and_keep_their_values(form_task: tuple[Site, Browser, str, str]) -> None:
    site, alice, url, _case = form_task
    posted = {
        **GOOD,
        "reference": "nope",
        "hours": "0.1",
        "outcome": "",
        "parts": ["P-9"],
        "items[0].sku": "",
    }
    refused = alice.post(url, posted)
    assert refused.status_code == 422
    page = text(refused)
    for message in (
        "Reference must match the pattern",
        "Hours must be at least 0.25",
        "Outcome is required",
        "&#39;P-9&#39; is not among the options",
        "SKU is required",
    ):
        assert message in page, message
    assert 'href="#f-reference"' in page and 'href="#f-items-0--sku"' in page
    assert 'aria-invalid="true"' in _tag(page, 'name="reference"') and 'value="nope"' in page
    assert 'data-entry="f-outcome" hidden' not in page  # reached = yes: shown, with its error
    assert 'value="2026-03-02T14:30"' in page
    assert 'value="2" checked' not in page and '<option value="2" selected>Two</option>' in page
    assert site.engine.queries.task(url.rsplit("/", 1)[1])["state"] == "open"


def test_add_a_row_redraws_the_form_without_completing(form_task: tuple[Site, Browser, str, str]) -> None:
    site, alice, url, _case = form_task
    grown = alice.post(url, {**GOOD, "_add_row": "items"})
    assert grown.status_code == 200
    page = text(grown)
    assert 'value="SKU-1"' in page and 'name="items[1].sku"' in page and "not accepted" not in page
    assert site.engine.queries.task(url.rsplit("/", 1)[1])["state"] == "open"


def test_visibility_follows_what_is_typed(form_task: tuple[Site, Browser, str, str]) -> None:
    _site, alice, url, _case = form_task
    shown = alice.post(f"{url}/visibility", {"reached": "yes"})
    assert shown.status_code == 200 and "f-outcome" not in json.loads(text(shown))["hidden"]
    hidden = json.loads(text(alice.post(f"{url}/visibility", {"reached": "no"})))["hidden"]
    assert "f-outcome" in hidden and "text-1" in hidden
    assert alice.post(f"{url}/visibility", {"reached": "no"}, csrf=False).status_code == 403
