"""the grade a learner was released, kept apart from a newer one waiting for release

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0022"
down_revision: Union[str, Sequence[str], None] = "0021"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema: released submissions keep the grade they were released with."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("released_grade_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("released_total", sa.Float(), nullable=True))
        batch.add_column(sa.Column("released_max_total", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("release_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        "UPDATE submissions SET released_total = total, released_max_total = max_total,"
        " released_grade_id = (SELECT MAX(g.id) FROM grades g"
        " WHERE g.submission_id = submissions.id)"
        " WHERE released_at IS NOT NULL"
    )
    op.create_index(
        "ix_submissions_release_pending",
        "submissions",
        ["assignment_id"],
        postgresql_where=sa.text("release_pending = true"),
        sqlite_where=sa.text("release_pending = 1"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_submissions_release_pending", table_name="submissions")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("release_pending")
        batch.drop_column("released_max_total")
        batch.drop_column("released_total")
        batch.drop_column("released_grade_id")
