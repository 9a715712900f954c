"""The OpenAPI 3.1 document of /api/v1, served by the API itself."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from ..openapi import Reply, build_document, operation
from .schemas import COMPONENTS

bp = Blueprint("docs", __name__)

INFO = {
    "title": "CRM customer-service workflow engine",
    "version": "1.0.0",
    "description": "Process definitions, cases, tasks, history and people of the BPMN engine behind "
    "the CRM's complaint, repair, compensation, agreement and callback processes. Errors are RFC "
    "9457 problem documents.",
}


def document() -> dict[str, Any]:
    """Built once per app: the routes do not change while it runs."""
    cached: dict[str, Any] | None = current_app.extensions.get("openapi_v1")
    if cached is None:
        from . import PREFIX

        cached = build_document(current_app, PREFIX, INFO, COMPONENTS)
        current_app.extensions["openapi_v1"] = cached
    return cached


@bp.get("/openapi.json")
@operation(
    "This API's OpenAPI 3.1 document",
    tag="Documentation",
    responses={200: Reply("The document", {"type": "object"})},
    is_public=True,
)
def openapi_json() -> ResponseReturnValue:
    return jsonify(document())
