"""Database access: one engine per URL, and the one place where transactions begin and end.

SQLite (the default) runs in WAL mode; write transactions start with ``BEGIN IMMEDIATE``
so two writers serialize at the start instead of failing half-way with a stale snapshot.
PostgreSQL is used as it is, with row locks taken by the store.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase

from .errors import Conflict, StoreError

DEFAULT_SQLITE_PATH = Path("instance") / "engine.sqlite3"
# Per-transaction bookkeeping lives under this key of the connection's info (which outlives it).
_TRANSACTION_SCOPE = "engine_transaction_scope"
_AFTER_COMMIT = "after_commit"
log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    """Declarative base for every table (engine and CRM records alike)."""


def default_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return normalize_url(url)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the engine, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL: a commit survives a killed process; only a power cut may lose the last one.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # Checkpoints (which fsync) run in the background (WalCheckpointer), not inside whichever
        # command's commit happens to cross SQLite's threshold.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = "BEGIN IMMEDIATE" if connection.info.get("write", True) else "BEGIN"
        # Straight to the driver: this runs once per command, on the hot path.
        driver: Any = connection.connection.driver_connection
        driver.execute(mode)


class Database:
    """Owns the SQLAlchemy engine; hands out transactions."""

    def __init__(self, url: str | None = None, *, echo: bool = False) -> None:
        self.url = normalize_url(url) if url else default_url()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(self.url, **kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._checkpointer: WalCheckpointer | None = None
        self._idle: IdleConnections | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            self._checkpointer = WalCheckpointer(self.engine)
            self._idle = IdleConnections(self.engine)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """The transaction boundary: commit on success, roll back on any error."""
        idle = self._idle
        try:
            conn = idle.take() if idle is not None else self.engine.connect()
        except OperationalError as exc:
            raise _store_error(exc) from exc
        try:
            info = conn.info
            info["write"] = write
            info[_TRANSACTION_SCOPE] = {}
            with conn.begin():
                yield conn
            scope = info.pop(_TRANSACTION_SCOPE, {})
        except OperationalError as exc:
            conn.close()
            raise _store_error(exc) from exc
        except BaseException:
            conn.close()  # back to the pool, which resets it: nothing of a failed command is reused
            raise
        if idle is not None:
            idle.give_back(conn)
        else:
            conn.close()
        for callback in scope.get(_AFTER_COMMIT, ()):
            try:
                callback()
            except Exception:  # what was committed stays committed; a listener's failure is only logged
                log.exception("after-commit callback failed")

    def dispose(self) -> None:
        if self._idle is not None:
            self._idle.close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()


class IdleConnections:
    """SQLite: connections kept open between transactions, handed to one transaction at a time.

    Opening a SQLAlchemy connection from the pool and closing it again (checkout, reset,
    checkin, events) cost several times the BEGIN and COMMIT of a short command. A connection
    whose transaction ended normally goes back on this list; one whose transaction failed is
    closed (returned to the pool and reset), as every connection was before. At most
    ``keep`` wait here; a transaction that finds none opens one, as before.
    """

    def __init__(self, engine: Engine, keep: int = 5) -> None:
        self._engine = engine
        self._keep = keep
        self._items: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> Connection:
        with self._lock:
            if self._items:
                return self._items.pop()
        return self._engine.connect()

    def give_back(self, conn: Connection) -> None:
        """Keep ``conn`` (its transaction ended normally) for the next transaction, or close it."""
        if not (conn.closed or conn.invalidated or conn.in_transaction()):
            with self._lock:
                if not self._closed and len(self._items) < self._keep:
                    self._items.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            items, self._items = self._items, []
        for conn in items:
            conn.close()


class WalCheckpointer:
    """Copies SQLite's write-ahead log back into the database file, in the background.

    Left to SQLite, the commit that crosses the log-size threshold pays for the copy and its
    fsync (milliseconds, for everyone's writes). Nothing is lost by deferring it: a committed
    transaction is in the log file, which survives a killed process. The thread starts with
    the first checkpoint that is due and stops with the Database.
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        event.listen(engine, "commit", self._on_commit)

    def _on_commit(self, _connection: Connection) -> None:
        if self._thread is None and not self._stop.is_set():
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="sqlite-wal-checkpoint", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.checkpoint()

    def checkpoint(self) -> None:
        try:
            with self._engine.connect() as conn:
                driver: Any = conn.connection.driver_connection
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # busy or shutting down: the next round catches up
            log.debug("WAL checkpoint skipped", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if thread is not None:
            self.checkpoint()


def transaction_scope(conn: Connection) -> dict[str, Any]:
    """A dict that lives as long as the transaction ``conn`` is in (for per-transaction bookkeeping)."""
    scope: dict[str, Any] = conn.info.setdefault(_TRANSACTION_SCOPE, {})
    return scope


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run ``callback`` after the transaction ``conn`` is in has committed; never if it rolls back."""
    transaction_scope(conn).setdefault(_AFTER_COMMIT, []).append(callback)


def _store_error(exc: OperationalError) -> Exception:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    lowered = text.lower()
    if "locked" in lowered or "could not serialize" in lowered or "deadlock" in lowered:
        return Conflict(f"The database was busy with a concurrent change; retry. ({text})")
    return StoreError(f"Database error: {text}")
