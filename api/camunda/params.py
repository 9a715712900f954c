"""Reading Camunda-style requests: query parameters and JSON bodies, strictly.

A parameter this API does not implement is refused with a 400 that names it, rather than
ignored: a client filtering by something this engine does not filter by must not get a
list that looks filtered. Values are converted as Camunda converts them (``true``/``false``,
comma-separated lists, dates as ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``) and any other value is a
400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import request

from engine import json_values
from engine.camunda_queries import Sorting, Window
from engine.clock import OutOfRange, parse_utc
from engine.errors import ValidationError

from ..nul import has_nul, nul_in_request

DATE_FORMAT_HINT = "yyyy-MM-dd'T'HH:mm:ss.SSSZ, e.g. 2013-01-23T14:42:45.000+0200"


def format_date(value: datetime | None) -> str | None:
    """Camunda's default date format: ``2013-01-23T13:42:42.657+0000`` (always UTC here)."""
    if value is None:
        return None
    moment = value.astimezone(UTC) if value.tzinfo is not None else value
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_date(text: Any, name: str) -> datetime:
    if not isinstance(text, str):
        raise ValidationError(
            f"Cannot convert value {text!r} of parameter '{name}' to a date ({DATE_FORMAT_HINT})"
        )
    try:
        return parse_utc(text)
    except ValueError as exc:
        why = f": {exc}" if isinstance(exc, OutOfRange) else ""
        raise ValidationError(
            f"Cannot convert value \"{text}\" of parameter '{name}' to a date ({DATE_FORMAT_HINT}){why}"
        ) from None


class Params:
    """The parameters of one request, from its query string or its JSON body."""

    def __init__(self, values: Mapping[str, Any], what: str = "query parameter") -> None:
        self.values = values
        self.what = what

    @classmethod
    def query(cls) -> Params:
        args = request.args
        repeated = [name for name in args if len(args.getlist(name)) > 1]
        if repeated:
            raise ValidationError(f"Query parameter '{repeated[0]}' is given more than once")
        return cls({name: args[name] for name in args})

    @classmethod
    def body(cls, allow_empty: bool = True) -> Params:
        return cls(json_body(allow_empty), "property")

    def only(self, allowed: Iterable[str], accepted: Iterable[str] = ()) -> Params:
        """Refuse any parameter but ``allowed`` (used) and ``accepted`` (Camunda knobs of no effect here)."""
        known = set(allowed) | set(accepted)
        unknown = sorted(name for name in self.values if name not in known)
        if unknown:
            raise ValidationError(
                f"Unsupported {self.what} '{unknown[0]}': this engine implements "
                f"{', '.join(sorted(allowed)) or 'none'}"
            )
        return self

    def _fail(self, name: str, value: Any, why: str = "") -> ValidationError:
        return ValidationError(
            f"Cannot set {self.what} '{name}' to value '{value}'" + (f": {why}" if why else "")
        )

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(name, value, "expected text")
        return value

    def texts(self, name: str) -> list[str] | None:
        """A list: comma-separated in a query string, a JSON array (or comma-separated text) in a body."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise self._fail(name, value, "expected a list of text")

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self._fail(name, value, "expected true or false")

    def integer(self, name: str, minimum: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            number = int(value)
        if number is None or not -(2**31) <= number < 2**31:
            raise self._fail(name, value, "expected a whole number")
        if minimum is not None and number < minimum:
            raise self._fail(name, value, f"must be {minimum} or more")
        return number

    def date(self, name: str) -> datetime | None:
        value = self.values.get(name)
        return None if value is None else parse_date(value, name)

    def sorting(self, keys: Iterable[str]) -> list[Sorting]:
        """``sortBy``/``sortOrder`` in a query string, or the ``sorting`` array of a JSON body."""
        allowed = set(keys)
        if self.what == "property":
            entries = self.values.get("sorting")
            if entries is None:
                return []
            if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
                raise self._fail("sorting", entries, "expected a list of {sortBy, sortOrder} objects")
            return [_sorting(e.get("sortBy"), e.get("sortOrder"), allowed) for e in entries]
        by, order = self.values.get("sortBy"), self.values.get("sortOrder")
        if by is None and order is None:
            return []
        if by is None or order is None:
            raise ValidationError("Only a single sorting parameter specified. sortBy and sortOrder required")
        return [_sorting(by, order, allowed)]


def _sorting(by: Any, order: Any, allowed: set[str]) -> Sorting:
    if by is None or order is None:
        raise ValidationError("Only a single sorting parameter specified. sortBy and sortOrder required")
    if by not in allowed:
        raise ValidationError(
            f"Cannot set query parameter 'sortBy' to value '{by}': sort by one of "
            + ", ".join(sorted(allowed))
        )
    if order not in ("asc", "desc"):
        raise ValidationError(f"Cannot set query parameter 'sortOrder' to value '{order}': use asc or desc")
    return Sorting(str(by), order == "desc")


def window() -> Window:
    """``firstResult``/``maxResults``: query parameters, also for queries sent as POST."""
    params = Params({k: request.args[k] for k in ("firstResult", "maxResults") if k in request.args})
    first = params.integer("firstResult", minimum=0) or 0
    return Window(first, params.integer("maxResults", minimum=0))


PAGING = ("firstResult", "maxResults")
SORTING = ("sortBy", "sortOrder")


def json_body(allow_empty: bool = True) -> dict[str, Any]:
    """The request's JSON object (Camunda clients do not all send a JSON content type)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            return {}
        raise ValidationError("The request needs a JSON body")
    try:
        # Depth checked first: the NUL check and the engine recurse into the body.
        data = json_values.loads(raw, json_values.MAX_BODY_DEPTH, "the request body")
    except json_values.UnfitJson as exc:
        raise ValidationError(f"The request body cannot be accepted: {exc}") from None
    except ValueError as exc:
        raise ValidationError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"The request body must be a JSON object, not {type(data).__name__}")
    refuse_nul(data, "the request body")
    return data


def refuse_nul(value: Any, where: str) -> None:
    """Text holding NUL characters cannot be stored (PostgreSQL refuses them): a 400, said where."""
    if has_nul(value):
        raise ValidationError(f"Text in {where} must not contain NUL characters")


def refuse_nul_in_request() -> None:
    """The path, the query string and form fields: nothing the engine stores or looks up may hold NUL."""
    where = nul_in_request()
    if where is not None:
        raise ValidationError(f"{where} must not contain NUL characters")
