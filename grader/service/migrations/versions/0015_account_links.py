"""account links: one-time links to set or reset a password

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0015"
down_revision: Union[str, Sequence[str], None] = "0014"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_account_links_user_id", "account_links", ["user_id"])
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("account_link_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_notifications_account_link", "account_links", ["account_link_id"], ["id"]
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("fk_notifications_account_link", type_="foreignkey")
        batch.drop_column("account_link_id")
    op.drop_index("ix_account_links_user_id", table_name="account_links")
    op.drop_table("account_links")
