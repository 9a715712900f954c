"""Telling schedulers that something new falls due, once the transaction that wrote it commits.

In the same process a listener (the running scheduler) hears about it right after the commit.
On PostgreSQL the hint is also a ``NOTIFY`` on the ``engine_due`` channel, which PostgreSQL
delivers only if and when the transaction commits, to every scheduler process listening, so a
timer written by a web process wakes a separate scheduler process at once rather than at its next
safety poll.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from threading import Lock

from sqlalchemy import Connection, text

from ..db import after_commit, transaction_scope

CHANNEL = "engine_due"
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
_PENDING = "engine_due_hint"

Listener = Callable[[datetime], None]


class WakeHints:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def due(self, conn: Connection, at: datetime) -> None:
        """Something falls due at ``at``; announce it when ``conn``'s transaction commits."""
        scope = transaction_scope(conn)
        pending: datetime | None = scope.get(_PENDING)
        if pending is not None and pending <= at:
            return  # an earlier hint of this transaction already wakes the schedulers in time
        scope[_PENDING] = at
        if conn.dialect.name == "postgresql":
            conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": at.isoformat()})
        if pending is None:
            after_commit(conn, lambda: self.announce(scope[_PENDING]))

    def announce(self, at: datetime) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(at)
