"""Appending events to cases' histories without loading their workflows.

Alarms, acknowledgements and SLA pauses change no workflow state, so raising thousands of them
must not deserialize thousands of workflows. A case's chain head lives on its instance row; the
rows are locked (in one fixed order, so two batches never wait on each other in a circle), the
events are chained after each head and the heads move, in the caller's transaction, with one
statement per kind of write however many cases a batch touches. The row version is left alone:
the workflow did not change, and a command that loads the instance re-reads the head with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from ..errors import NotFound
from ..history import ChainHead, NewEvent, chain_rows
from ..models import Definition, HistoryEvent, Instance

_MOVE_HEAD = (
    update(Instance)
    .where(Instance.id == bindparam("i_id"))
    .values(history_seq=bindparam("seq"), history_head=bindparam("head"))
)
_INSERT_EVENTS = insert(HistoryEvent)
_LOCK_CASES = (
    select(
        Instance.id,
        Instance.history_seq,
        Instance.history_head,
        Instance.business_key,
        Instance.definition_id,
        Definition.version,
    )
    .join(Definition, Definition.id == Instance.definition_id)
    .where(Instance.id.in_(bindparam("ids", expanding=True)))
    .order_by(Instance.id)
    .with_for_update(of=Instance)
)


@dataclass(frozen=True)
class CaseHead:
    """Where a case's chain stands, and what each of its events records about the case."""

    seq: int
    head: str
    business_key: str | None
    definition_id: str
    definition_version: int


def lock_cases(conn: Connection, instance_ids: Sequence[str]) -> dict[str, CaseHead]:
    """Lock the cases' instance rows (in id order) and return their chain heads."""
    ordered = sorted(set(instance_ids))
    if not ordered:
        return {}
    rows = conn.execute(_LOCK_CASES, {"ids": ordered})
    return {
        row.id: CaseHead(row.history_seq, row.history_head, row.business_key, row.definition_id, row.version)
        for row in rows
    }


def append_case_events(
    conn: Connection,
    events: Mapping[str, Sequence[NewEvent]],
    at: datetime,
    heads: Mapping[str, CaseHead] | None = None,
) -> None:
    """Chain ``events`` (by instance id) onto their cases; ``heads`` from ``lock_cases`` if at hand."""
    wanted = [instance_id for instance_id, case_events in events.items() if case_events]
    if not wanted:
        return
    known = heads if heads is not None else lock_cases(conn, wanted)
    rows = []
    moves = []
    for instance_id in sorted(wanted):
        case = known.get(instance_id)
        if case is None:
            raise NotFound(f"No process instance with id {instance_id!r}")
        context = {
            "instance_id": instance_id,
            "business_key": case.business_key,
            "definition_id": case.definition_id,
            "definition_version": case.definition_version,
        }
        start = ChainHead(case.seq, case.head)
        chained, head = chain_rows(instance_id, start, events[instance_id], at, context)
        rows.extend(chained)
        moves.append({"i_id": instance_id, "seq": head.seq, "head": head.head})
    conn.execute(_MOVE_HEAD, moves)
    conn.execute(_INSERT_EVENTS, rows)
