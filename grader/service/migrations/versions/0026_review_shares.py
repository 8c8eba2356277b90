"""each answer's reviewer: the review of an assignment split across a team

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0026"
down_revision: Union[str, Sequence[str], None] = "0025"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("reviewer_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_submissions_reviewer_id_users", "users", ["reviewer_id"], ["id"]
        )
    op.create_index(
        "ix_submissions_assignment_reviewer", "submissions", ["assignment_id", "reviewer_id"]
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_submissions_assignment_reviewer", table_name="submissions")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint("fk_submissions_reviewer_id_users", type_="foreignkey")
        batch.drop_column("reviewer_id")
