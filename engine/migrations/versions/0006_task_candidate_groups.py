"""tasks: candidate_groups, every camunda:candidateGroups entry of a user task

A task naming several candidate groups ("service_manager,director") is open to members of
any of them; role keeps the first, which deadline policies, alarms and role filters use.
Rows written before have NULL here and behave as before (their role alone).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: an instant ALTER on both databases, whatever the number of tasks.
    op.add_column("tasks", sa.Column("candidate_groups", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("candidate_groups")
