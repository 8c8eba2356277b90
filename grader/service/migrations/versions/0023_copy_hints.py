"""answer fingerprints and copy hints (near-duplicate answers, for instructors)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0023"
down_revision: Union[str, Sequence[str], None] = "0022"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "answer_fingerprints",
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("submission_id", "hash"),
    )
    op.create_index(
        "ix_fingerprints_assignment_hash", "answer_fingerprints", ["assignment_id", "hash"]
    )
    op.create_table(
        "copy_hints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id"), nullable=False),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("other_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=True),
        sa.Column("shared_words", sa.Integer(), nullable=False),
        sa.Column("longest", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("spans", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_copy_hints_submission_id", "copy_hints", ["submission_id"])
    op.create_index("ix_copy_hints_other_id", "copy_hints", ["other_id"])
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("copy_hints", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("copy_hints")
    op.drop_table("copy_hints")
    op.drop_table("answer_fingerprints")
