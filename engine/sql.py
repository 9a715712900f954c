"""Statements of the hot path, compiled once and run on the driver's cursor.

A command runs a handful of small statements; SQLAlchemy's per-execution bookkeeping costs
more than the database work itself (tens of microseconds each, on SQLite). The statements
stay SQLAlchemy Core expressions, compiled by SQLAlchemy for each dialect with its own bind
processors (dates, booleans), and run inside the same connection and transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Parameter names in order, for positional paramstyles (SQLite's "?"); None for named styles.
    order: tuple[str, ...] | None
    processors: Mapping[str, Callable[[Any], Any]]
    # Values bound in the statement itself (literals such as ``state == "open"``).
    literals: Mapping[str, Any]
    # Positional styles: (name, bind processor or None) in parameter order, worked out once.
    steps: tuple[tuple[str, Callable[[Any], Any] | None], ...] | None = None


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
            steps = tuple((name, processors.get(name)) for name in order) if order is not None else None
            found = _Compiled(str(compiled), order, processors, literals, steps)
            self._by_dialect[key] = found
        return found

    def _params(self, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
        processors = compiled.processors
        if compiled.literals:
            values = {**compiled.literals, **values}
        if compiled.steps is not None:
            return tuple(
                values[name] if process is None else process(values[name]) for name, process in compiled.steps
            )
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
