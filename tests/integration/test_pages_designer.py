"""The designer's page: deployed processes and versions, deploying a bundle with its validation
report, downloading a version's BPMN; designers deploy, auditors and admins only look."""

from __future__ import annotations

import io
from pathlib import Path

from werkzeug.test import TestResponse

from tests.conftest import FIXTURES
from tests.integration.pages_support import PAGES_FORM_BPMN, Browser, Site, site, text

__all__ = ["site"]

BROKEN = FIXTURES / "camunda" / "broken.bpmn"
FORM = FIXTURES / "forms" / "pages_everything.form"


def _upload(browser: Browser, *paths: Path, csrf: bool = True, **fields: str) -> TestResponse:
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in paths]
    return browser.post(
        "/designer", {"files": files, **fields}, csrf=csrf, content_type="multipart/form-data"
    )


def test_who_sees_the_designer_page(site: Site) -> None:
    for who in ("dora", "audrey", "adam"):
        page = site.browser(who).get("/designer")
        assert page.status_code == 200, who
        assert "Service call" in text(page) and "service_call" in text(page), who
    assert "Validate and deploy" in text(site.browser("dora").get("/designer"))
    for who in ("audrey", "adam"):
        assert "Validate and deploy" not in text(site.browser(who).get("/designer")), who
    for who in ("alice", "sam"):
        refused = site.browser(who).get("/designer")
        assert refused.status_code == 403 and "only designers" in text(refused), who


def test_a_bundle_is_validated_deployed_and_reported(site: Site) -> None:
    dora = site.browser("dora")
    deployed = _upload(dora, PAGES_FORM_BPMN, FORM, name="forms demo", changed_only="true")
    assert deployed.status_code == 201
    page = text(deployed)
    assert "Deployed" in page and "pages_form" in page and "new version" in page
    [definition] = site.engine.queries.definitions(key="pages_form")
    assert definition["version"] == 1
    assert f"/designer/definitions/{definition['id']}.bpmn" in page

    again = _upload(dora, PAGES_FORM_BPMN, FORM, changed_only="true")
    assert again.status_code == 200 and "Nothing changed" in text(again)
    forced = _upload(dora, PAGES_FORM_BPMN, FORM)  # the checkbox unticked: a new version anyway
    assert forced.status_code == 201
    assert [d["version"] for d in site.engine.queries.definitions(key="pages_form")] == [1, 2]


def test_problems_are_listed_with_file_line_and_element_and_nothing_is_stored(site: Site) -> None:
    before = site.engine.queries.definitions()
    refused = _upload(site.browser("dora"), BROKEN)
    assert refused.status_code == 422
    page = text(refused)
    assert "Not deployed: nothing was stored" in page
    problems = page.split('class="list problems"', 1)[1].split("</table>", 1)[0]
    assert "broken.bpmn" in problems and "<code>lookup</code>" in problems
    assert "<td>8</td>" in problems  # the line of the service task without a handler
    assert site.engine.queries.definitions() == before

    wrong_kind = site.browser("dora").post(
        "/designer", {"files": [(io.BytesIO(b"hello"), "notes.txt")]}, content_type="multipart/form-data"
    )
    assert wrong_kind.status_code == 422 and "notes.txt: not a .bpmn" in text(wrong_kind)


def test_only_designers_deploy_and_only_with_the_csrf_token(site: Site) -> None:
    assert _upload(site.browser("alice"), PAGES_FORM_BPMN, FORM).status_code == 403
    assert _upload(site.browser("audrey"), PAGES_FORM_BPMN, FORM).status_code == 403
    assert _upload(site.browser("dora"), PAGES_FORM_BPMN, FORM, csrf=False).status_code == 403
    assert site.engine.queries.definitions(key="pages_form") == []


def test_a_version_downloads_as_its_bpmn_file(site: Site) -> None:
    [definition] = site.engine.queries.definitions(key="service_call")
    response = site.browser("audrey").get(f"/designer/definitions/{definition['id']}.bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert 'filename="service_call-v1.bpmn"' in response.headers["Content-Disposition"]
    assert b'<bpmn:process id="service_call"' in response.data
    assert site.browser("alice").get(f"/designer/definitions/{definition['id']}.bpmn").status_code == 403
    assert site.browser("dora").get("/designer/definitions/nothing.bpmn").status_code == 404
