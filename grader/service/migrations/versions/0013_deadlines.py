"""deadlines: an assignment's opening and due times, its late policy; late submissions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("late_policy", sa.String(length=16), nullable=False, server_default="accept")
        )
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(
            sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("late")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("late_policy")
        batch.drop_column("due_at")
        batch.drop_column("opens_at")
