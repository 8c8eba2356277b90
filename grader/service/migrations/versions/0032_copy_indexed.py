"""submissions.copy_indexed: a first grade whose copy indexing failed is indexed again by the
reconciler, instead of staying out of the copy hints for good

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0032"
down_revision: Union[str, Sequence[str], None] = "0031"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(
            sa.Column("copy_indexed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Whether an existing answer's indexing failed is not known (answers graded before copy
    # hints, synthetic ones, short ones have no fingerprints either): the existing rows count
    # as indexed (those still waiting for a first grade are indexed by it), and only
    # failures from now on are tried again.
    op.execute(
        "UPDATE submissions SET copy_indexed = true WHERE status NOT IN ('queued', 'grading')"
    )
    op.create_index(
        "ix_submissions_unindexed",
        "submissions",
        ["id"],
        postgresql_where=sa.text("NOT copy_indexed"),
        sqlite_where=sa.text("copy_indexed = 0"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_submissions_unindexed", table_name="submissions")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("copy_indexed")
