"""regrade requests, notifications (in the app and by mail)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(
            sa.Column("open_requests", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "regrade_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("criterion", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("learner_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("submission_id", "criterion", name="uq_regrade_requests_criterion"),
    )
    op.create_index(
        "ix_regrade_requests_submission_id", "regrade_requests", ["submission_id"]
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_status", sa.String(length=16), nullable=True),
        sa.Column("email_to", sa.String(length=320), nullable=True),
        sa.Column("email_tries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.Column("email_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_notifications_user_read", "notifications", ["user_id", "read_at", "id"]
    )
    op.create_index(
        "ix_notifications_email_status", "notifications", ["email_status", "email_next_at"]
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_notifications_email_status", table_name="notifications")
    op.drop_index("ix_notifications_user_read", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_regrade_requests_submission_id", table_name="regrade_requests")
    op.drop_table("regrade_requests")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("open_requests")
