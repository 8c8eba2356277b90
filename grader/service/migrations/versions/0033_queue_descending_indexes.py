"""Indexes for the review queue's descending sorts on PostgreSQL

The queue sorts "ungraded last" both ways (NULLS LAST), which an ascending index read
backwards does not give (that is DESC NULLS FIRST): at 100,000 submissions a descending
page sorted every matching row (66-77 ms against 6-7 ms ascending). SQLite has no NULLS
LAST in an index; there its DESC order already puts NULLs last.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-04

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0033"
down_revision: Union[str, Sequence[str], None] = "0032"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = {
    "ix_queue_assignment_confidence_desc": (["assignment_id", "status"], "confidence"),
    "ix_queue_assignment_time_desc": (["assignment_id", "status"], "created_at"),
    "ix_queue_assignment_total_desc": (["assignment_id", "status"], "total"),
    "ix_queue_confidence_desc": (["status"], "confidence"),
}


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (columns, key) in INDEXES.items():
        op.create_index(
            name,
            "submissions",
            [*columns, sa.text(f"{key} DESC NULLS LAST"), sa.text("id DESC")],
            postgresql_where=sa.text("current"),
        )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.drop_index(name, table_name="submissions")
