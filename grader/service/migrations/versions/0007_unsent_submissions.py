"""submissions whose grading task could not be sent

``submissions.unsent`` is set when the broker refused the grading task (it was down while
the answer was stored); the reconciler sends those at its next run instead of waiting
``STUCK_AFTER``, so a broker outage costs seconds, not minutes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("unsent", sa.Boolean(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("unsent")
