"""an assignment's counted grade: the latest released version, or the best

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0016"
down_revision: Union[str, Sequence[str], None] = "0015"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(
            sa.Column("counted_grade", sa.String(length=8), nullable=False, server_default="latest")
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("counted_grade")
