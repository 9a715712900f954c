"""Claiming due rows with a lease: the one place where several scheduler processes divide the work.

A due source is a table with a due column and two lease columns. Claiming takes the rows that
are due and not leased (or whose lease ran out), oldest first, and leases them to one owner for a
while, in one short transaction. On PostgreSQL the candidate rows are read ``FOR UPDATE SKIP
LOCKED``, so two processes claiming at the same moment take disjoint rows without waiting for
each other. SQLite has no row locks; its write transactions start with ``BEGIN IMMEDIATE``
(see ``engine.db``), so claims from several processes simply take turns.

The lease is a promise, not a lock: whoever acts on a claimed row re-reads it in the acting
transaction and goes ahead only if the lease is still its own. A process killed after claiming
leaves the rows to be claimed again once the lease has run out.

Every query reads the low end of a due-time index (the lease indexes hold leased rows only), so
a wake-up costs the same with a thousand open tasks as with a million. The statements are built
once per source; a wake-up only binds the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    or_,
    select,
    true,
    update,
)

from ..clock import as_utc

_NOW: Any = bindparam("now")


@dataclass(frozen=True)
class DueSource:
    """Where due work of one kind lives: a table, its key, its due column and lease columns."""

    name: str
    table: Table
    key: str
    due: str = "due_at"
    lease_owner: str = "lease_owner"
    lease_until: str = "lease_until"
    # Columns the acting command needs, read in the claiming query.
    extra: tuple[str, ...] = ()
    # Rows of the table that are not this source's work (e.g. message subscriptions).
    where: ColumnElement[bool] | None = None

    def column(self, name: str) -> Column[Any]:
        return self.table.c[name]

    def scope(self) -> ColumnElement[bool]:
        return self.where if self.where is not None else true()

    @cached_property
    def claimable(self) -> ColumnElement[bool]:
        """Due by ``:now`` and not leased, or leased by someone whose lease has run out."""
        due, until = self.column(self.due), self.column(self.lease_until)
        return and_(self.scope(), due <= _NOW, or_(until.is_(None), until <= _NOW))

    @cached_property
    def probe(self) -> Select[Any]:
        return select(self.column(self.key)).where(self.claimable).limit(1)

    @cached_property
    def candidates(self) -> Select[Any]:
        due = self.column(self.due)
        columns = [self.column(self.key), due, *(self.column(name) for name in self.extra)]
        limit: Any = bindparam("limit", type_=Integer, literal_execute=True)
        return select(*columns).where(self.claimable).order_by(due).limit(limit)

    @cached_property
    def lease(self) -> Update:
        return (
            update(self.table)
            .where(self.column(self.key).in_(bindparam("keys", expanding=True)))
            .values({self.lease_owner: bindparam("owner"), self.lease_until: bindparam("until")})
        )

    @cached_property
    def lease_if_held(self) -> Update:
        """``lease``, only for the rows still leased to ``:held_by``."""
        return self.lease.where(self.column(self.lease_owner) == bindparam("held_by"))

    @cached_property
    def first_unleased(self) -> Select[Any]:
        # ORDER BY … LIMIT 1 rather than min(): both databases then read the first index entry.
        due, until = self.column(self.due), self.column(self.lease_until)
        return select(due).where(self.scope(), due.is_not(None), until.is_(None)).order_by(due).limit(1)

    @cached_property
    def first_lease_end(self) -> Select[Any]:
        due, until = self.column(self.due), self.column(self.lease_until)
        leased = select(until).where(self.scope(), until.is_not(None), due.is_not(None))
        return leased.order_by(until).limit(1)


@dataclass(frozen=True)
class Claimed:
    """A row leased to this owner: its key, when it was due, and the extra columns asked for."""

    key: Any
    due_at: datetime
    data: dict[str, Any]


def has_due(conn: Connection, source: DueSource, now: datetime) -> bool:
    """Is anything of this source claimable now?"""
    return conn.execute(source.probe, {"now": now}).first() is not None


def claim(
    conn: Connection, source: DueSource, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due rows to ``owner``; run inside a write transaction of its own."""
    query = source.candidates
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query, {"now": now, "limit": limit}).all()
    if not rows:
        return []
    conn.execute(source.lease, {"keys": [row[0] for row in rows], "owner": owner, "until": now + lease})
    return [
        Claimed(row[0], as_utc(row[1]), dict(zip(source.extra, row[2:], strict=True))) for row in rows
    ]


def next_due(conn: Connection, source: DueSource) -> datetime | None:
    """When this source next has work: its earliest unleased due time, or the earliest lease end.

    Leased rows are in someone's hands; they only count again when their lease runs out, so a row
    another process is working on does not make this one spin.
    """
    moments = (conn.execute(source.first_unleased).scalar(), conn.execute(source.first_lease_end).scalar())
    found = [as_utc(moment) for moment in moments if moment is not None]
    return min(found) if found else None


def still_mine(row: Any, source: DueSource, owner: str, now: datetime) -> bool:
    """Is a row, re-read (locked) in the acting transaction, still leased to ``owner`` and due?"""
    if row is None:
        return False
    due = getattr(row, source.due)
    return bool(getattr(row, source.lease_owner) == owner and due is not None and as_utc(due) <= now)


def release(
    conn: Connection,
    source: DueSource,
    keys: Sequence[Any],
    *,
    until: datetime | None = None,
    held_by: str | None = None,
) -> None:
    """Give rows back: at once (``until`` None) or parked until ``until`` (e.g. a suspended case).

    With ``held_by``, only the rows still leased to that owner: outside the transaction that
    re-read the lease, it may have run out and gone to another scheduler, whose it then stays.
    """
    if not keys:
        return
    owner = None if until is None else "parked"
    values = {"keys": list(keys), "owner": owner, "until": until}
    if held_by is None:
        conn.execute(source.lease, values)
    else:
        conn.execute(source.lease_if_held, {**values, "held_by": held_by})
