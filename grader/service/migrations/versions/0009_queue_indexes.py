"""indexes that serve the review queue's filters and sort orders

Partial indexes over current submissions (what the queue lists): by assignment and status
in each sort order the queue offers (confidence, time, total; the id breaks ties, so a
keyset page starts where the last one ended), and by status and confidence for the queue
across assignments. Without them a deep page sorted the whole table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = {
    "ix_queue_assignment_confidence": ["assignment_id", "status", "confidence", "id"],
    "ix_queue_assignment_time": ["assignment_id", "status", "created_at", "id"],
    "ix_queue_assignment_total": ["assignment_id", "status", "total", "id"],
    "ix_queue_confidence": ["status", "confidence", "id"],
}


def upgrade() -> None:
    """Upgrade schema."""
    current = sa.text("current")
    for name, columns in INDEXES.items():
        op.create_index(
            name, "submissions", columns, postgresql_where=current, sqlite_where=current
        )


def downgrade() -> None:
    """Downgrade schema."""
    for name in INDEXES:
        op.drop_index(name, table_name="submissions")
