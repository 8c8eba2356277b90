"""enrolments: who is in an assignment's course, and assignments restricted to them

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0017"
down_revision: Union[str, Sequence[str], None] = "0016"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(
            sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("added_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("assignment_id", "user_id", name="uq_enrolments"),
    )
    op.create_index("ix_enrolments_user_id", "enrolments", ["user_id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_enrolments_user_id", table_name="enrolments")
    op.drop_table("enrolments")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("restricted")
