"""Pagination and sorting of read-side lists: one way for every list the API serves.

A list request names an offset, a limit and sort keys (``-due_at,priority``: a leading
minus sorts descending). Each list declares which keys it sorts by and which column each
key means, so a request can never sort by an arbitrary column; a unique tie-breaker is
always appended so that pages never overlap or skip rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, func

from .errors import FieldError, ValidationError

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.name}" if self.descending else self.name


@dataclass(frozen=True)
class PageRequest:
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    sort: tuple[SortKey, ...] = ()

    def __post_init__(self) -> None:
        errors = []
        if self.offset < 0:
            errors.append(FieldError("offset", "must be 0 or more"))
        if not 1 <= self.limit <= MAX_LIMIT:
            errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
        if errors:
            raise ValidationError("Invalid page request", errors)


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int
    sort: tuple[SortKey, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "sort": ",".join(str(k) for k in self.sort),
        }


def parse_sort(text: str | None, allowed: Sequence[str]) -> tuple[SortKey, ...]:
    """``"-due_at,priority"`` → sort keys; an unknown key is refused with the allowed ones."""
    if text is None or not text.strip():
        return ()
    keys: list[SortKey] = []
    for part in text.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("+-").strip()
        if name not in allowed:
            raise ValidationError(
                f"Cannot sort by {name!r}",
                [FieldError("sort", f"{name!r} is not one of: {', '.join(allowed)}")],
            )
        # A key given again adds nothing: the rows are already in its order.
        if all(k.name != name for k in keys):
            keys.append(SortKey(name, descending))
    return tuple(keys)


def ordered(
    query: Select,
    sort: Sequence[SortKey],
    columns: Mapping[str, Any],
    default: Sequence[SortKey],
    tiebreak: Any,
) -> Select:
    """Order by the requested keys (else the default), then the unique tie-breaker.

    The tie-breaker runs the way the first key does, so "newest first" lists rows inserted in
    the same instant newest first too (when the tie-breaker grows with insertion).
    """
    keys = sort or default
    clauses = []
    for key in keys:
        column = columns[key.name]
        # NULLs last either way: a task without a deadline is not "due first" nor "due last but one".
        clauses.append(column.desc().nulls_last() if key.descending else column.asc().nulls_last())
    clauses.append(tiebreak.desc() if keys and keys[0].descending else tiebreak.asc())
    return query.order_by(*clauses)


def fetch_page(
    conn: Connection,
    query: Select,
    page: PageRequest,
    columns: Mapping[str, Any],
    default: Sequence[SortKey],
    tiebreak: Any,
    to_dict: Callable[[Any], dict[str, Any]],
) -> Page:
    """One page of ``query`` (already filtered) and the total number of rows it matches."""
    ordered_query = ordered(query, page.sort, columns, default, tiebreak)
    rows = list(conn.execute(ordered_query.offset(page.offset).limit(page.limit)))
    if 0 < len(rows) < page.limit or (page.offset == 0 and len(rows) < page.limit):
        # A page that is not full is the last one: its rows tell the total.
        total = page.offset + len(rows)
    else:
        # The lists' queries are plain filtered selects (no grouping, no limit): counting their
        # rows needs no subquery.
        counted = query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        total = int(conn.execute(counted).scalar_one())
    return Page([to_dict(r) for r in rows], total, page.offset, page.limit, page.sort or tuple(default))
