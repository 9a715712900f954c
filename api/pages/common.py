"""What every page view needs: the engine, the signed-in person, paging and safe redirects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, redirect, request, url_for
from werkzeug.wrappers import Response

from engine.actors import Actor
from engine.engine import Engine
from engine.errors import FieldError, ValidationError
from engine.paging import Page, PageRequest, SortKey

from ..auth import current_actor

PAGE_SIZE = 25
# Deep enough for any real list, small enough that an offset stays cheap to compute.
MAX_PAGE_NUMBER = 100_000


def engine() -> Engine:
    found: Engine = current_app.extensions["engine"]
    return found


def me() -> Actor:
    return current_actor()


def query_text(name: str, limit: int = 200) -> str | None:
    """A free-text query parameter, trimmed; empty means not given (NUL never gets here: see
    the pages blueprint)."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if len(value) > limit:
        raise ValidationError(f"Invalid {name}", [FieldError(name, f"text of at most {limit} characters")])
    return value


def query_choice(name: str, allowed: list[str] | tuple[str, ...], default: str | None = None) -> str | None:
    value = query_text(name)
    if value is None:
        return default
    if value not in allowed:
        raise ValidationError(
            f"Invalid {name}", [FieldError(name, f"{value!r} is not one of: {', '.join(allowed)}")]
        )
    return value


def page_request(sort: tuple[SortKey, ...] = (), size: int = PAGE_SIZE) -> PageRequest:
    """The ``page`` query parameter (1, 2, ...) as a page request of ``size`` rows."""
    raw = request.args.get("page", "1").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_NUMBER:
        raise ValidationError(
            "Invalid page number", [FieldError("page", f"must be a whole number from 1 to {MAX_PAGE_NUMBER}")]
        )
    return PageRequest(offset=(int(raw) - 1) * size, limit=size, sort=sort)


@dataclass(frozen=True)
class Pager:
    """Where a page stands in its list, for the previous / next links."""

    number: int
    pages: int
    total: int
    first_row: int
    last_row: int

    @classmethod
    def of(cls, page: Page) -> Pager:
        pages = max(1, -(-page.total // page.limit))
        number = page.offset // page.limit + 1
        first = page.offset + 1 if page.items else 0
        return cls(number, pages, page.total, first, page.offset + len(page.items))


def page_url(number: int) -> str:
    """This page's address with another page number, the other filters kept."""
    values: dict[str, Any] = {**request.args.to_dict(), **(request.view_args or {}), "page": number}
    return url_for(request.endpoint or "pages.home", **values)


def safe_next(target: str | None, fallback: str) -> str:
    """A redirect target taken from a form or query: a path on this site only, never another host."""
    if not target:
        return fallback
    parts = urlsplit(target)
    elsewhere = parts.scheme or parts.netloc or target.startswith("//") or "\\" in target
    if elsewhere or not target.startswith("/"):
        return fallback
    return target


def back_to(fallback: str) -> Response:
    """Redirect to the form's ``next`` field (where the button was pressed), else ``fallback``."""
    return redirect(safe_next(request.form.get("next"), fallback), code=303)
