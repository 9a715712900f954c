"""Reading a request the way its ``@operation`` declares it: query parameters by their
schemas, the JSON body against its schema, and the page (offset, limit, sort).

Everything a client can get wrong is answered with a problem naming the field: a query
parameter of the wrong type is a 400, a body that is not a JSON object is a 400 (so is one
no variable could hold: NaN, Infinity, nesting deeper than engine/json_values.py allows), a
body whose fields are unacceptable is a 422 listing each field. Text with NUL characters is
refused everywhere, because PostgreSQL cannot store it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import jsonschema_rs
from flask import current_app, request

from engine import json_values
from engine.clock import OutOfRange, parse_utc
from engine.errors import FieldError, ValidationError
from engine.paging import DEFAULT_LIMIT, MAX_LIMIT, PageRequest, SortKey, parse_sort

from ..nul import has_nul
from ..openapi import Operation, Param, operation_of
from .schemas import COMPONENTS

MAX_OFFSET = 1_000_000_000
_PLUS_AS_SPACE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+ \d\d:\d\d$")


class InvalidRequest(ValidationError):
    """The request itself is malformed (a bad query parameter, a body that is not JSON)."""

    status = 400
    title = "Bad request"


class UnsupportedMediaType(ValidationError):
    status = 415
    title = "Unsupported media type"


def current_operation() -> Operation:
    op = operation_of(current_app.view_functions.get(request.endpoint or ""))
    if op is None:
        raise LookupError(f"{request.endpoint} has no @operation declaration")
    return op


# -- query parameters ------------------------------------------------------------------------


def paging(sort_keys: Sequence[str], default_sort: str) -> tuple[Param, ...]:
    """The offset, limit and sort parameters of a list sortable by ``sort_keys``."""
    choices = [*sort_keys, *(f"-{k}" for k in sort_keys)]
    return (
        Param(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            "How many items to skip",
        ),
        Param(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "How many items to return at most",
        ),
        Param(
            "sort",
            {"type": "string", "maxLength": 200, "pattern": _sort_pattern(choices)},
            f"Comma-separated keys, '-' for descending: {', '.join(sort_keys)} (default {default_sort})",
            validate=False,
        ),
    )


def _sort_pattern(choices: Sequence[str]) -> str:
    one = "(" + "|".join(c.replace("-", "\\-") for c in choices) + ")"
    return f"^{one}(,{one})*$"


def _text(param: Param, raw: str) -> str:
    if has_nul(raw):
        raise _bad(param, "must not contain NUL characters")
    limit = param.schema.get("maxLength")
    if limit is not None and len(raw) > int(limit):
        raise _bad(param, f"must be at most {limit} characters")
    return raw


def _bad(param: Param, message: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid query parameter {param.name!r}: {message}", [FieldError(param.name, message)]
    )


def _coerce(param: Param, raw: str) -> Any:
    kind = param.schema.get("type")
    if kind == "integer":
        try:
            return int(raw.strip())
        except ValueError:
            raise _bad(param, f"{raw[:40]!r} is not a whole number") from None
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise _bad(param, "must be true or false")
    text = _text(param, raw)
    if param.schema.get("format") == "date-time":
        return parse_datetime(text, param.name)
    return text


def parse_datetime(text: str, name: str) -> datetime:
    """ISO 8601 date-time; one without an offset is taken as UTC.

    A '+' of an offset that arrives as a space (an unencoded '+' in a query string) is read
    as the '+' the client meant.
    """
    text = text.strip()
    if _PLUS_AS_SPACE.match(text):
        text = text[:-6] + "+" + text[-5:]
    try:
        return parse_utc(text)
    except OutOfRange as exc:
        reason = str(exc)
    except ValueError:
        reason = f"{text[:40]!r} is not an ISO 8601 date-time (2026-01-05T09:00:00Z)"
    raise InvalidRequest(f"Invalid date-time in {name!r}", [FieldError(name, reason)])


def query_args() -> dict[str, Any]:
    """The declared query parameters of this request, typed and checked (absent ones are None)."""
    op = current_operation()
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for param in op.query:
        raw = request.args.get(param.name)
        if raw is None:
            if param.required:
                errors.append(FieldError(param.name, "is required"))
            values[param.name] = None
            continue
        try:
            value = _coerce(param, raw)
            checked = value.isoformat() if isinstance(value, datetime) else value
            if param.validate:
                for error in _validator(param.schema).iter_errors(checked):
                    errors.append(FieldError(param.name, error.message))
                    break
            values[param.name] = value
        except InvalidRequest as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidRequest(
            "Invalid query parameters: " + "; ".join(f"{e.field} {e.message}" for e in errors), errors
        )
    return values


def page_request(args: Mapping[str, Any], sort_keys: Sequence[str]) -> PageRequest:
    sort: tuple[SortKey, ...] = ()
    if args.get("sort") is not None and not args["sort"].strip():
        raise InvalidRequest("Invalid query parameter 'sort'", [FieldError("sort", "is empty; leave it out")])
    if args.get("sort"):
        try:
            sort = parse_sort(args["sort"], list(sort_keys))
        except ValidationError as exc:
            raise InvalidRequest(exc.message, exc.errors) from None
    offset = args.get("offset")
    limit = args.get("limit")
    return PageRequest(
        offset=0 if offset is None else offset,
        limit=DEFAULT_LIMIT if limit is None else limit,
        sort=sort,
    )


# -- JSON bodies --------------------------------------------------------------------------------

_VALIDATORS: dict[int, Any] = {}


def _validator(schema: Mapping[str, Any]) -> Any:
    key = id(schema)
    validator = _VALIDATORS.get(key)
    if validator is None:
        # Bodies refer to shared schemas (#/components/schemas/...): give them the same root.
        document = {**schema, "components": {"schemas": COMPONENTS}}
        validator = jsonschema_rs.validator_for(document, validate_formats=True)
        _VALIDATORS[key] = validator
    return validator


def json_body() -> dict[str, Any]:
    """The request's JSON object, checked against the operation's body schema (422 per field)."""
    op = current_operation()
    if not op.body_required and not request.get_data(cache=True):
        return {}
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"Send the body as JSON with Content-Type: application/json (got {request.mimetype or 'none'})"
        )
    try:
        # Depth checked first: the NUL check, the schema and the engine all recurse into it.
        raw = request.get_data(cache=True) or b"null"
        body = json_values.loads(raw, json_values.MAX_BODY_DEPTH, "the body")
    except json_values.UnfitJson as exc:
        raise InvalidRequest(f"The body cannot be accepted: {exc}") from None
    except ValueError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"The body must be a JSON object, not {type(body).__name__}")
    if has_nul(body):
        raise InvalidRequest("Text in the body must not contain NUL characters")
    if op.body is not None:
        check_against(op.body, body)
    return body


def check_against(schema: Mapping[str, Any], value: Any) -> None:
    errors = [FieldError(_field_name(e), e.message) for e in _validator(schema).iter_errors(value)]
    if errors:
        raise ValidationError(
            "The request body is not acceptable: " + "; ".join(f"{e.field}: {e.message}" for e in errors[:5]),
            errors,
        )


def _field_name(error: Any) -> str:
    path = [str(p) for p in error.instance_path]
    prop = getattr(error.kind, "property", None)
    if isinstance(prop, str):
        path.append(prop)
    return ".".join(path) or "(body)"
