"""each submission's effective points per criterion, beside its total

``submissions.points`` ({criterion id: points}, overrides applied) is kept with the other
headline figures (total, confidence, flags) whenever a grade or an override changes them, so
the dashboard's distributions and the gradebook read one row per submission instead of its
grades and overrides. Rows graded before this migration keep NULL and are read the old way.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("points", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("points")
