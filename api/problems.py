"""Errors as RFC 9457 problem responses: one JSON shape for every refusal."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request:
        body["instance"] = request.path
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError) -> Response:
        return problem(exc.status, exc.title, exc.message, **exc.details())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return problem(exc.code or 500, exc.name, exc.description or exc.name)
