"""NUL characters in what a request sends: refused before anything reaches the database.

No id, name or stored text holds a NUL, and PostgreSQL refuses it in a text parameter (the
query fails, and a request would end in a 500). The REST API, the Camunda API and the pages
all ask these functions, each answering in its own shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request

NUL = "\x00"


def has_nul(value: Any) -> bool:
    """Whether text, or any key or value of a JSON-like structure, holds a NUL character."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, Mapping):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


def nul_in_path(values: Mapping[str, Any] | None) -> str | None:
    """The name of the first value taken from the URL path that holds a NUL, else None."""
    for name, value in (values or {}).items():
        if NUL in str(value):
            return name
    return None


def nul_in_request() -> str | None:
    """The name of the first part of this request holding a NUL, else None: a path value,
    a query parameter, or a form field (its name, a value, or an uploaded file's name)."""
    found = nul_in_path(request.view_args)
    if found is not None:
        return found
    for fields in (request.args, request.form):
        for name, value in fields.items(multi=True):
            if has_nul(name) or has_nul(value):
                return name.replace(NUL, "")
    for name, upload in request.files.items(multi=True):
        if has_nul(name) or has_nul(upload.filename):
            return name.replace(NUL, "")
    return None
