"""Errors as Camunda's REST API reports them: ``{"type": <exception class>, "message": <text>}``.

Camunda clients show ``message`` and some branch on ``type`` (Camunda Modeler recognizes a
diagram it cannot deploy by the message prefix ``ENGINE-09005 Could not parse BPMN process.``).
Where Camunda answers a client's mistake with a 500 (a task already claimed, a stale
update), this API answers with the 4xx that says what happened: no request gets a 500.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from engine.errors import (
    BadRequest,
    Conflict,
    DefinitionError,
    EngineError,
    Forbidden,
    NotFound,
    Problem,
    ProcessFailed,
    ScriptRefused,
    TooManyAttempts,
    Unauthenticated,
    ValidationError,
)

PARSE_ERROR = "ENGINE-09005 Could not parse BPMN process."

# (HTTP status, Camunda exception type) for each branch of the engine's errors.
_MAPPING: list[tuple[type[EngineError], int, str]] = [
    (Unauthenticated, 401, "AuthenticationException"),
    (TooManyAttempts, 429, "AuthenticationException"),
    (Forbidden, 403, "AuthorizationException"),
    (NotFound, 404, "InvalidRequestException"),
    (Conflict, 409, "OptimisticLockingException"),
    (ValidationError, 400, "InvalidRequestException"),
    (BadRequest, 400, "InvalidRequestException"),
    (ScriptRefused, 400, "InvalidRequestException"),
    (ProcessFailed, 400, "ProcessEngineException"),
]


class CamundaError(Exception):
    """A refusal with Camunda's exception type chosen by the route (e.g. ``RestException``)."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message


def error_response(status: int, type_: str, message: str, **extra: Any) -> Response:
    response = jsonify({"type": type_, "message": message, **extra})
    response.status_code = status
    return response


def engine_error_response(exc: EngineError) -> Response:
    if isinstance(exc, DefinitionError):
        return parse_exception_response(exc)
    for branch, status, type_ in _MAPPING:
        if isinstance(exc, branch):
            return error_response(status, type_, _message(exc))
    # Store trouble (503), handler failures (502): the engine's own status, Camunda's generic type.
    return error_response(exc.status, "ProcessEngineException", exc.message)


def _message(exc: EngineError) -> str:
    """The message, with a form's field-by-field errors, which Camunda's shape has no member for."""
    errors = exc.details().get("errors") or []
    if not errors:
        return exc.message
    fields = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return f"{exc.message} ({fields})"


def parse_exception_response(exc: DefinitionError) -> Response:
    """Camunda's answer to a diagram it cannot deploy: every problem, with file, line and element."""
    lines = "".join(f"\n* {_located(p)}" for p in exc.problems)
    details: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for problem in exc.problems:
        resource = details.setdefault(problem.file or "deployment", {"errors": [], "warnings": []})
        resource["errors"].append(
            {
                "message": problem.message,
                "line": problem.line,
                "column": None,
                "mainElementId": problem.element_id,
                "elementIds": [problem.element_id] if problem.element_id else [],
            }
        )
    return error_response(400, "ParseException", f"{PARSE_ERROR} Errors: {lines}", details=details)


def _located(problem: Problem) -> str:
    parts = [problem.message]
    if problem.file:
        parts.append(f"resource {problem.file}")
    if problem.line is not None:
        parts.append(f"line {problem.line}")
    if problem.element_id:
        parts.append(f"element {problem.element_id}")
    return " | ".join(parts)


def http_error_response(exc: HTTPException) -> Response:
    status = exc.code or 500
    kinds = {
        400: "InvalidRequestException",
        404: "InvalidRequestException",
        405: "NotAllowedException",
        415: "NotSupportedException",
    }
    response = error_response(status, kinds.get(status, "RestException"), exc.description or exc.name)
    if status == 405 and exc.get_headers():
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response
