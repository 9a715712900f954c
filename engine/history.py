"""The audit history: append-only events, each hash-chained to the previous one of its chain.

An instance's events form one chain (its head is kept on the instance row, updated in the
same statement that checks the row version); events that belong to no instance (deploys,
user administration) form named chains. Changing, removing or reordering any stored event
breaks the chain at that point, which ``verify`` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from .models import HistoryChain, HistoryEvent

GENESIS = "0" * 64


# One encoder for every event: json.dumps with options builds a new encoder on each call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(data: Any) -> str:
    return _CANONICAL.encode(data)


def canonical_time(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


@dataclass
class NewEvent:
    """An event a command wants recorded; chained and stamped when its transaction commits."""

    event_type: str
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)
    task_id: str | None = None
    element_id: str | None = None


def event_hash(prev_hash: str, row: Mapping[str, Any] | Any) -> str:
    """The hash a stored event must carry after ``prev_hash`` (the current scheme)."""
    return _digest(
        prev_hash, row["chain"], row["seq"], row["event_type"], row["actor"], canonical_time(row["at"]),
        _context_of(row), row.get("task_id"), row.get("element_id"), row["data"],
    )  # fmt: skip


def _context_of(row: Mapping[str, Any] | Any) -> tuple[Any, ...]:
    return (
        row.get("instance_id"),
        row.get("business_key"),
        row.get("definition_id"),
        row.get("definition_version"),
    )


# The fields as a JSON array: no value can pass for a field boundary (the first scheme joined
# them with "|", so text moved across a "|" inside a value kept the hash; see legacy_event_hash).
_MATERIAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _digest(
    prev_hash: str,
    chain: Any,
    seq: Any,
    event_type: Any,
    actor: Any,
    at: str,
    context: tuple[Any, ...],
    task_id: Any,
    element_id: Any,
    data: Any,
) -> str:
    material = _MATERIAL.encode(
        [prev_hash, chain, seq, event_type, actor, at, *context, task_id, element_id, data]
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def legacy_event_hash(prev_hash: str, row: Mapping[str, Any] | Any) -> str:
    """The first scheme's hash ("|"-joined fields), which events written before 2026-12-03 carry.

    ``verify`` accepts it only for the events of a chain before its first event of the current
    scheme: a chain cannot go back to it.
    """
    context = "|".join(str(value or "") for value in _context_of(row))
    fields = (
        prev_hash, row["chain"], row["seq"], row["event_type"], row["actor"], canonical_time(row["at"]),
        context, row.get("task_id") or "", row.get("element_id") or "", row["data"],
    )  # fmt: skip
    return hashlib.sha256("|".join(str(f) for f in fields).encode("utf-8")).hexdigest()


@dataclass
class ChainHead:
    seq: int
    head: str


def chain_rows(
    chain: str,
    head: ChainHead,
    events: Iterable[NewEvent],
    at: datetime,
    context: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], ChainHead]:
    """Rows for ``events`` appended after ``head``; returns them and the new head."""
    rows = []
    seq, prev = head.seq, head.head
    # The same for every event of one append: worked out once.
    at_text = canonical_time(at)
    context_values = _context_of(context)
    for event in events:
        seq += 1
        row: dict[str, Any] = {
            "chain": chain,
            "seq": seq,
            "event_type": event.event_type,
            "actor": event.actor,
            "at": at,
            "instance_id": context.get("instance_id"),
            "business_key": context.get("business_key"),
            "definition_id": context.get("definition_id"),
            "definition_version": context.get("definition_version"),
            "task_id": event.task_id,
            "element_id": event.element_id,
            "data": canonical_json(dict(event.data)),
            "prev_hash": prev,
        }
        row["hash"] = prev = _digest(
            prev, chain, seq, event.event_type, event.actor, at_text, context_values,
            event.task_id, event.element_id, row["data"],
        )  # fmt: skip
        rows.append(row)
    return rows, ChainHead(seq, prev)


INSERT_EVENTS = insert(HistoryEvent)


def append_to_named_chain(
    conn: Connection, chain: str, events: list[NewEvent], at: datetime, context: Mapping[str, Any]
) -> None:
    """Append events to a chain that is not an instance (deployments, administration)."""
    current = conn.execute(
        select(HistoryChain.seq, HistoryChain.head).where(HistoryChain.chain == chain).with_for_update()
    ).first()
    head = ChainHead(current.seq, current.head) if current else ChainHead(0, GENESIS)
    rows, new_head = chain_rows(chain, head, events, at, context)
    if not rows:
        return
    if current is None:
        conn.execute(insert(HistoryChain).values(chain=chain, seq=new_head.seq, head=new_head.head))
    else:
        conn.execute(
            update(HistoryChain)
            .where(HistoryChain.chain == chain)
            .values(seq=new_head.seq, head=new_head.head)
        )
    conn.execute(INSERT_EVENTS, rows)


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    seq: int
    event_id: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "seq": self.seq, "event_id": self.event_id, "reason": self.reason}


def verify(conn: Connection, chain: str | None = None) -> tuple[int, list[ChainBreak]]:
    """Re-hash every event (of one chain, or all); return the count checked and every break."""
    query = select(HistoryEvent).order_by(HistoryEvent.chain, HistoryEvent.seq)
    if chain is not None:
        query = query.where(HistoryEvent.chain == chain)
    breaks: list[ChainBreak] = []
    checked = 0
    current_chain: str | None = None
    prev, expected_seq, legacy_allowed = GENESIS, 1, True
    for event in conn.execute(query).mappings():
        checked += 1
        if event["chain"] != current_chain:
            current_chain, prev, expected_seq, legacy_allowed = event["chain"], GENESIS, 1, True
        if event["seq"] != expected_seq:
            breaks.append(
                ChainBreak(event["chain"], event["seq"], event["id"], f"expected event {expected_seq} here")
            )
        if event["prev_hash"] != prev:
            breaks.append(
                ChainBreak(event["chain"], event["seq"], event["id"], "does not chain to the previous event")
            )
        if event_hash(event["prev_hash"], event) == event["hash"]:
            legacy_allowed = False
        elif not (legacy_allowed and legacy_event_hash(event["prev_hash"], event) == event["hash"]):
            breaks.append(
                ChainBreak(event["chain"], event["seq"], event["id"], "content does not match its hash")
            )
        prev, expected_seq = event["hash"], event["seq"] + 1
    breaks.extend(_check_heads(conn, chain))
    return checked, breaks


def _check_heads(conn: Connection, chain: str | None) -> list[ChainBreak]:
    """A deleted tail leaves a consistent chain; the stored head catches it."""
    from .models import Instance

    breaks = []
    heads: list[tuple[str, int, str]] = []
    q1 = select(Instance.id, Instance.history_seq, Instance.history_head)
    q2 = select(HistoryChain.chain, HistoryChain.seq, HistoryChain.head)
    if chain is not None:
        q1 = q1.where(Instance.id == chain)
        q2 = q2.where(HistoryChain.chain == chain)
    heads.extend((r[0], r[1], r[2]) for r in conn.execute(q1))
    heads.extend((r[0], r[1], r[2]) for r in conn.execute(q2))
    for name, seq, head in heads:
        if seq == 0:
            continue
        last = conn.execute(
            select(HistoryEvent.seq, HistoryEvent.hash, HistoryEvent.id)
            .where(HistoryEvent.chain == name)
            .order_by(HistoryEvent.seq.desc())
            .limit(1)
        ).first()
        if last is None or last.seq != seq or last.hash != head:
            breaks.append(
                ChainBreak(name, seq, last.id if last else 0, "the chain's last event is missing or altered")
            )
    return breaks
