"""The web pages through Flask's test client, signed in with the session cookie as a browser is.

``Browser`` signs in through the sign-in form and echoes the session's CSRF token in every
form it posts, as the pages' own forms do. The ``site`` fixture is the REST harness's app
(one user per role, the service-call process deployed) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine.clock import ManualClock
from engine.handler_registry import HandlerRegistry
from tests.conftest import FIXTURES
from tests.integration.rest_support import PASSWORD, SERVICE_BPMN, Rest, make_rest

PAGES_FORM_BPMN = FIXTURES / "pages_form.bpmn"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """One person's browser: a cookie jar, and the CSRF token of their session."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf: str | None = None

    def sign_in(self, name: str, password: str = PASSWORD) -> TestResponse:
        page = self.client.get("/login")
        token = csrf_of(page)
        response = self.client.post("/login", data={"name": name, "password": password, "csrf_token": token})
        if response.status_code == 303:
            self.csrf = csrf_of(self.client.get("/cases"))  # the sign-out form of every page
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> TestResponse:
        form = dict(data or {})
        if csrf and self.csrf is not None:
            form.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=form, **kwargs)


def csrf_of(page: TestResponse) -> str:
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Site:
    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.engine = rest.engine
        self.clock = rest.clock

    def browser(self, who: str | None = None) -> Browser:
        browser = Browser(self.rest.app.test_client())
        if who is not None:
            signed_in = browser.sign_in(who)
            assert signed_in.status_code == 303, signed_in.get_data(as_text=True)
        return browser

    def start(self, business_key: str | None = None, who: str = "alice", **variables: Any) -> dict[str, Any]:
        return self.rest.start(business_key, who, **variables)

    def open_task(self, instance_id: str, element_id: str) -> dict[str, Any]:
        return self.rest.open_task(instance_id, element_id)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def site(db_url: str, handlers: HandlerRegistry, clock: ManualClock) -> Iterator[Site]:
    rest = make_rest(db_url, handlers, clock)
    assert rest.deploy(SERVICE_BPMN).status_code == 201
    yield Site(rest)
    rest.engine.close()
