"""The OpenAPI 3.1 document of /api/v1, built from the routes themselves.

Each view declares its operation with ``@operation(...)``: summary, query parameters, body
schema, responses and the errors it can answer with. The same declaration drives the
request parsing (``api.rest.params``), so what the document says a request may carry is
exactly what the server accepts; the document lists every rule of the URL map under the
prefix, and a view without a declaration is a programming error caught when the document
is built (and by the tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask

from .auth import public

F = TypeVar("F", bound=Callable[..., Any])

PROBLEM_MEDIA = "application/problem+json"
# Text never contains NUL (PostgreSQL cannot store it); the document says so wherever text goes.
NO_NUL = "^[^\\u0000]*$"
JSON_MEDIA = "application/json"

ERROR_DESCRIPTIONS = {
    400: "The request is malformed (not JSON, a bad query parameter)",
    401: "No valid credentials",
    403: "The caller's roles do not allow this",
    404: "No such resource",
    409: "The resource's state does not allow this now (already done, changed concurrently)",
    413: "The request body is too large",
    415: "The body is not of a supported media type",
    422: "The request is well-formed but its content is not acceptable (field by field)",
    429: "Too many failed logins; retry after the Retry-After header's seconds",
}


@dataclass(frozen=True)
class Param:
    """A query parameter: its JSON schema says its type, range and choices."""

    name: str
    schema: Mapping[str, Any]
    description: str
    required: bool = False
    # False when the view checks the value itself with a better message than the schema's.
    validate: bool = True


@dataclass(frozen=True)
class Reply:
    description: str
    schema: Mapping[str, Any] | None = None
    media_type: str = JSON_MEDIA
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    responses: Mapping[int, Reply]
    description: str = ""
    query: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None
    body_required: bool = True
    multipart: Mapping[str, Any] | None = None
    errors: frozenset[int] = frozenset()
    is_public: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.query if p.name == name), None)


def operation(
    summary: str,
    *,
    tag: str,
    responses: Mapping[int, Reply],
    description: str = "",
    query: Iterable[Param] = (),
    body: Mapping[str, Any] | None = None,
    body_required: bool = True,
    multipart: Mapping[str, Any] | None = None,
    errors: Iterable[int] = (),
    is_public: bool = False,
) -> Callable[[F], F]:
    """Declare a view's operation (and make it public when it is)."""
    declared_errors = set(errors) | {400}
    if not is_public:
        declared_errors.add(401)
    if body is not None or multipart is not None:
        declared_errors.update({413, 415, 422})
    op = Operation(
        summary=summary,
        tag=tag,
        responses=responses,
        description=description,
        query=tuple(query),
        body=body,
        body_required=body_required,
        multipart=multipart,
        errors=frozenset(declared_errors),
        is_public=is_public,
    )

    def decorate(view: F) -> F:
        view.openapi = op  # type: ignore[attr-defined]
        return public(view) if is_public else view

    return decorate


def operation_of(view: Callable[..., Any] | None) -> Operation | None:
    return getattr(view, "openapi", None)


_CONVERTER = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")


def _openapi_path(rule: str) -> str:
    return _CONVERTER.sub(lambda m: "{" + m.group("name") + "}", rule)


def _responses(op: Operation, components: Mapping[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, reply in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": reply.description}
        if reply.schema is not None:
            entry["content"] = {reply.media_type: {"schema": dict(reply.schema)}}
        if reply.headers:
            entry["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in reply.headers.items()
            }
        responses[str(status)] = entry
    for status in sorted(op.errors):
        entry = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"description": "The accepted schemes", "schema": {"type": "string"}}
            }
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}
            }
        responses[str(status)] = entry
    return responses


def _operation(op: Operation, path_params: list[str], method: str, endpoint: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {},
    }
    if op.description:
        doc["description"] = op.description
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "pattern": NO_NUL},
        }
        for name in path_params
    ]
    parameters.extend(
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": dict(p.schema),
        }
        for p in op.query
    )
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {
            "required": op.body_required,
            "content": {JSON_MEDIA: {"schema": dict(op.body)}},
        }
    elif op.multipart is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": dict(op.multipart)}},
        }
    if op.is_public:
        doc["security"] = []
    return doc


def build_document(
    app: Flask, prefix: str, info: Mapping[str, Any], components: Mapping[str, Any]
) -> dict[str, Any]:
    """Every route under ``prefix``, described by its declaration."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(prefix):
            continue
        view = app.view_functions[rule.endpoint]
        op = operation_of(view)
        if op is None:
            raise LookupError(f"Route {rule.rule} ({rule.endpoint}) has no @operation declaration")
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        path_params = [m.group("name") for m in _CONVERTER.finditer(rule.rule)]
        item = paths.setdefault(_openapi_path(rule.rule), {})
        for method in methods:
            entry = _operation(op, path_params, method, rule.endpoint)
            entry["responses"] = _responses(op, components)
            if len(methods) > 1:
                entry["operationId"] += f"_{method.lower()}"
            item[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": dict(info),
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": dict(components),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from POST /api/v1/tokens",
                },
                "basic": {"type": "http", "scheme": "basic"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "A browser session (POST /api/v1/session); "
                    "unsafe methods need the X-CSRF-Token header",
                },
            },
        },
        "security": [{"bearer": []}, {"basic": []}, {"session": []}],
    }
