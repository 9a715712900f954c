"""Time spent inside SQLite (statements, row fetches, commits) by the connections of one database.

The engine's persisted rate is bounded by what SQLite alone costs for the rows a command
must write (decisions 1 and 2 of DESIGN.md: state, task rows and history in one transaction).
This meter measures that cost on a real run, so the benchmark can print the best ratio any
amount of Python work saved could reach on this machine.

Connections are made through a ``sqlite3.Connection`` subclass (SQLAlchemy's ``do_connect``
hook, for the one database file named) whose calls into SQLite are timed while ``on``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass
class SqliteMeter:
    path: str
    on: bool = False
    seconds: float = 0.0
    commit_seconds: float = 0.0
    # Commands measured (each ``measuring()`` block).
    commands: int = 0
    # Only the measuring thread's calls count (not the WAL checkpointer's, say).
    thread: int = 0

    def timed(self, call: Callable[..., Any], *args: Any) -> Any:
        if not self.on or threading.get_ident() != self.thread:
            return call(*args)
        began = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.seconds += time.perf_counter() - began

    @contextmanager
    def measuring(self) -> Iterator[None]:
        self.on = True
        self.thread = threading.get_ident()
        self.commands += 1
        try:
            yield
        finally:
            self.on = False

    def install(self) -> None:
        """Time every connection later opened (by any SQLAlchemy engine) to ``path``."""
        meter = self

        class MeteredCursor(sqlite3.Cursor):
            def execute(self, sql: str, parameters: Any = (), /) -> Any:
                return meter.timed(super().execute, sql, parameters)

            def executemany(self, sql: str, seq: Any, /) -> Any:
                return meter.timed(super().executemany, sql, seq)

            def fetchone(self) -> Any:
                return meter.timed(super().fetchone)

            def fetchmany(self, size: int = 1) -> Any:
                return meter.timed(super().fetchmany, size)

            def fetchall(self) -> Any:
                return meter.timed(super().fetchall)

        class MeteredConnection(sqlite3.Connection):
            def cursor(self, factory: Any = MeteredCursor) -> Any:  # type: ignore[override]
                return super().cursor(factory)

            def execute(self, sql: str, parameters: Any = (), /) -> Any:  # type: ignore[override]
                return self.cursor().execute(sql, parameters)

            def commit(self) -> None:
                counted = meter.on and threading.get_ident() == meter.thread
                began = time.perf_counter()
                meter.timed(super().commit)
                if counted:
                    meter.commit_seconds += time.perf_counter() - began

        def use_metered(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
            if cargs and cargs[0] == meter.path:
                cparams["factory"] = MeteredConnection

        event.listen(Engine, "do_connect", use_metered)
