"""Readable, gap-free-per-series document numbers: ``CMP-2026-00042``.

The counter row is created on first use (``INSERT … ON CONFLICT DO NOTHING``) and then
incremented with one ``UPDATE … RETURNING``, which both databases serialize on the row, so
two cases started at the same moment never get the same number.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .dates import local_day
from .records import NumberSequence

# Document series; the prefix is part of every number people quote on the phone.
COMPLAINT = "CMP"
REPAIR_REQUEST = "REQ"
REPAIR_ORDER = "RO"
COMPENSATION = "CMPN"
STATEMENT = "ST"
PAYMENT_ORDER = "PAY"
AGREEMENT = "AGR"


def next_number(session: Session, prefix: str, now: datetime) -> str:
    series = f"{prefix}-{local_day(now).year}"
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(NumberSequence).values(series=series, last=0).on_conflict_do_nothing())
    last = session.execute(
        update(NumberSequence)
        .where(NumberSequence.series == series)
        .values(last=NumberSequence.last + 1)
        .returning(NumberSequence.last)
    ).scalar_one()
    return f"{series}-{last:05d}"
