"""What every /api/v1 view needs: the engine, and the shapes of successful answers."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from engine.engine import Engine


def engine() -> Engine:
    found: Engine = current_app.extensions["engine"]
    return found


def created(body: Any, location: str) -> Response:
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = location
    return response


def no_content() -> Response:
    return Response(status=204)
