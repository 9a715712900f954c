"""Server-rendered pages for staff, designers and auditors (Jinja templates in ``api/templates``,
plain CSS and one small script in ``api/static``; nothing is fetched from elsewhere).

One parent blueprint signs people in with the session cookie of ``api.auth`` (every form
carries the session's CSRF token, checked there) and shows refusals as readable pages; one
child blueprint per page group. Views hold no business rules: they call the engine's commands
and queries, and ask ``access`` (the engine's own rules) which buttons to offer.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from engine.errors import BadRequest, DefinitionError, EngineError, Unauthenticated, ValidationError

from ..auth import current_account, protect
from ..nul import nul_in_request
from . import access
from .common import me
from .display import init_display

log = logging.getLogger(__name__)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _blueprint() -> Blueprint:
    from . import alarms, cases, designer, inbox, login, start, tasks

    parent = Blueprint("pages", __name__)
    protect(parent)
    for module in (alarms, cases, designer, inbox, login, start, tasks):
        parent.register_blueprint(module.bp)

    @parent.before_request
    def _no_nul() -> None:
        # Nothing a page looks up or stores holds NUL, and PostgreSQL refuses it: a 400 page.
        where = nul_in_request()
        if where is not None:
            raise BadRequest(f"{where} must not contain NUL characters")

    @parent.get("/")
    def home() -> ResponseReturnValue:
        return redirect(url_for(access.home_endpoint(me())))

    @parent.after_request
    def _page_headers(response: Response) -> Response:
        # Pages hold case data and buttons: no framing (clickjacking), nothing from elsewhere,
        # forms post only here, and no copy left in a shared browser's cache.
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @parent.context_processor
    def _layout() -> dict[str, Any]:
        return {"nav": navigation()}

    @parent.errorhandler(Unauthenticated)
    def _sign_in_first(_exc: Unauthenticated) -> ResponseReturnValue:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("pages.login.login", next=target))

    @parent.errorhandler(Exception)
    def _error_page(exc: Exception) -> ResponseReturnValue:
        # Registered on the blueprint, so found before the app's JSON problem handlers.
        if isinstance(exc, EngineError):
            return error_page(exc.status, exc.title, exc.message, exc)
        if isinstance(exc, HTTPException):
            return error_page(exc.code or 500, exc.name, exc.description or exc.name)
        log.exception("Unhandled error on page %s", request.path)
        return error_page(500, "Internal server error", "The server failed; the error is logged.")

    return parent


def navigation() -> dict[str, Any] | None:
    """Who is signed in and which page groups the header offers them."""
    try:
        account = current_account()
    except EngineError:  # bad credentials: the page shown is the refusal itself
        account = None
    if account is None:
        return None
    actor = account.actor
    links = [
        ("pages.inbox.inbox", "Inbox", not actor.read_only),
        ("pages.cases.case_list", "Cases", True),
        ("pages.start.start_page", "Start a case", access.may_change(actor)),
        ("pages.alarms.alarm_list", "Alarms", True),
        ("pages.designer.designer", "Processes", access.may_view_designer(actor)),
    ]
    return {
        "name": account.display_name or account.name,
        "user": account.name,
        "roles": sorted(account.roles),
        "links": [(endpoint, label) for endpoint, label, shown in links if shown],
    }


def error_page(status: int, title: str, message: str, exc: EngineError | None = None) -> ResponseReturnValue:
    field_errors = exc.errors if isinstance(exc, ValidationError) else []
    problems = exc.problems if isinstance(exc, DefinitionError) else []
    referrer = request.referrer or ""
    page = render_template(
        "error.html",
        back=referrer if referrer.startswith(request.host_url) and referrer != request.url else None,
        status=status,
        title=title,
        message=message,
        field_errors=field_errors,
        problems=problems,
    )
    return page, status


def register_pages(app: Flask) -> None:
    init_display(app)
    app.register_blueprint(_blueprint())
