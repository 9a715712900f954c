"""Liveness and readiness for load balancers and `make run`'s first look."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    engine = current_app.extensions["engine"]
    return jsonify(status="ok", definitions=len(engine.queries.definitions(latest_only=True)))
