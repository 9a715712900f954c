"""The native JSON REST API under /api/v1.

One parent blueprint signs callers in (``api.auth.protect``) and turns every error into an
RFC 9457 problem; one child blueprint per resource. Views hold no business rules: they
read the request as their ``@operation`` declares it, call an engine command or query
(each one transaction) and shape the answer.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError, NotFound, TooManyAttempts

from ..auth import protect
from ..nul import nul_in_path
from ..problems import problem

PREFIX = "/api/v1"
# Deployments upload diagrams and forms; nothing else comes near this.
MAX_BODY_BYTES = 16 * 1024 * 1024

log = logging.getLogger(__name__)


def _blueprint() -> Blueprint:
    from . import (
        alarms,
        definitions,
        docs,
        history,
        incidents,
        instances,
        messages,
        records,
        tasks,
        tokens,
        users,
    )

    parent = Blueprint("api_v1", __name__, url_prefix=PREFIX)
    protect(parent)
    for module in (
        alarms,
        definitions,
        docs,
        history,
        incidents,
        instances,
        messages,
        records,
        tasks,
        tokens,
        users,
    ):
        parent.register_blueprint(module.bp)

    @parent.url_value_preprocessor
    def _no_nul_in_paths(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        # No id contains NUL, and PostgreSQL refuses it as a query parameter.
        if nul_in_path(values) is not None:
            raise NotFound("No resource has that name")

    @parent.errorhandler(Exception)
    def _problem(exc: Exception) -> Response:
        # Registered on the blueprint, this handler is found before the app's, so every
        # failure under /api/v1 (a bug included) answers in the one problem shape.
        if isinstance(exc, EngineError):
            response = problem(exc.status, exc.title, exc.message, **exc.details())
            if isinstance(exc, TooManyAttempts):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        if isinstance(exc, HTTPException):
            return problem(exc.code or 500, exc.name, exc.description or exc.name)
        log.exception("Unhandled error in %s", PREFIX)
        return problem(500, "Internal server error", "The server failed; the error is logged")

    return parent


def register_rest_api(app: Flask) -> None:
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_BODY_BYTES)
    app.register_blueprint(_blueprint())
