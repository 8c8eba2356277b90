"""SQLite's queue indexes take the predicate its queries are written with (current = 1)

SQLite uses a partial index only when the query repeats the index's WHERE term, and
SQLAlchemy writes a boolean filter as "current = 1" there; PostgreSQL's indexes (WHERE
current) already match its "WHERE submissions.current".

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0030"
down_revision: Union[str, Sequence[str], None] = "0029"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = {
    "ix_queue_assignment_confidence": ["assignment_id", "status", "confidence", "id"],
    "ix_queue_assignment_time": ["assignment_id", "status", "created_at", "id"],
    "ix_queue_assignment_total": ["assignment_id", "status", "total", "id"],
    "ix_queue_confidence": ["status", "confidence", "id"],
}


def _recreate(predicate: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, columns in INDEXES.items():
        op.drop_index(name, table_name="submissions")
        op.create_index(name, "submissions", columns, sqlite_where=sa.text(predicate))


def upgrade() -> None:
    """Upgrade schema."""
    _recreate("current = 1")


def downgrade() -> None:
    """Downgrade schema."""
    _recreate("current")
