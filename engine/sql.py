"""Statements of the hot path, compiled once and run on the driver's cursor.

A command runs a handful of small statements; SQLAlchemy's per-execution bookkeeping costs
more than the database work itself (tens of microseconds each, on SQLite). The statements
stay SQLAlchemy Core expressions, compiled by SQLAlchemy for each dialect with its own bind
processors (dates, booleans), and run inside the same connection and transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    processors: Mapping[str, Callable[[Any], Any]]
    # Values bound in the statement itself (literals such as ``state == "open"``).
    literals: Mapping[str, Any]
    # Positional paramstyles (SQLite's "?"), worked out once; None for named styles: all values
    # in parameter order, fetched in one C call (a row of a wide INSERT would otherwise cost a
    # Python step per column), then the bind processors of the few columns that have one
    # (dates, booleans), by position.
    fetch: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = None
    process: tuple[tuple[int, Callable[[Any], Any]], ...] = ()


def _remember_times(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process``, remembering what it made of recent datetimes.

    A command binds the same few times (its "now") a dozen times, and formatting one (SQLite
    stores text) costs more than the rest of a row. Equal datetimes with equal UTC offsets
    have the same wall-clock fields, so the same text whatever the processor writes.
    """

    @lru_cache(maxsize=256)
    def by_time(value: datetime, _offset: Any) -> Any:
        return process(value)

    def processed(value: Any) -> Any:
        if type(value) is datetime:
            return by_time(value, value.utcoffset())
        return process(value)

    return processed


def _fetcher(order: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if not order:
        return lambda _values: ()
    if len(order) == 1:
        name = order[0]
        return lambda values: (values[name],)
    fetch: Callable[[Mapping[str, Any]], tuple[Any, ...]] = itemgetter(*order)
    return fetch


class Prepared:
    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def _compiled(self, dialect: Dialect, values: Mapping[str, Any]) -> _Compiled:
        # An INSERT compiles to the columns given (so server defaults and autoincrement ids apply).
        key = (dialect.name, tuple(values))
        found = self._by_dialect.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=list(values))
            positional = dialect.positional
            order = tuple(getattr(compiled, "positiontup", None) or ()) if positional else None
            processors = dict(getattr(compiled, "_bind_processors", {}) or {})
            literals = {k: v for k, v in compiled.params.items() if k not in values}
            fetch = _fetcher(order) if order is not None else None
            process = tuple(
                (i, _remember_times(processors[name]))
                for i, name in enumerate(order or ())
                if name in processors
            )
            found = _Compiled(str(compiled), processors, literals, fetch, process)
            self._by_dialect[key] = found
        return found

    def _params(self, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
        processors = compiled.processors
        if compiled.literals:
            values = {**compiled.literals, **values}
        if compiled.fetch is not None:
            row = compiled.fetch(values)
            if not compiled.process:
                return row
            changed = list(row)
            for i, process in compiled.process:
                changed[i] = process(changed[i])
            return tuple(changed)
        return {
            name: (processors[name](value) if name in processors else value) for name, value in values.items()
        }

    def execute(self, conn: Connection, values: Mapping[str, Any] | None = None) -> Any:
        """Run once; returns the driver cursor (``rowcount``, ``fetchone()``)."""
        values = values or {}
        compiled = self._compiled(conn.dialect, values)
        cursor = conn.connection.cursor()
        cursor.execute(compiled.sql, self._params(compiled, values))
        return cursor

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        compiled = self._compiled(conn.dialect, rows[0])
        cursor = conn.connection.cursor()
        cursor.executemany(compiled.sql, [self._params(compiled, row) for row in rows])
        cursor.close()

    def first(self, conn: Connection, values: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        cursor = self.execute(conn, values)
        row = cursor.fetchone()
        cursor.close()
        return tuple(row) if row is not None else None

    def all(self, conn: Connection, values: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = self.execute(conn, values)
        rows = [tuple(r) for r in cursor.fetchall()]
        cursor.close()
        return rows

    def rowcount(self, conn: Connection, values: Mapping[str, Any] | None = None) -> int:
        cursor = self.execute(conn, values)
        count = int(cursor.rowcount)
        cursor.close()
        return count
