"""history: drop ix_history_instance; an instance's events are its chain, found by (chain, seq)

Every command appends history events, and each index on history_events is one more page written
per commit. An instance's events are exactly the chain named by its id (named chains such as
"deployments" carry no instance id), so the unique (chain, seq) index already finds them in order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 19:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain DROP INDEX on both databases: no table copy, however long the history.
    op.drop_index("ix_history_instance", table_name="history_events")


def downgrade() -> None:
    op.create_index("ix_history_instance", "history_events", ["instance_id", "seq"], unique=False)
