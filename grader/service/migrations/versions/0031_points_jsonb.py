"""submissions.points as jsonb on PostgreSQL: the dashboard's distributions are aggregated in
SQL, and json text is parsed again for every criterion read (three times slower at 100,000)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-03

"""

from typing import Sequence, Union

from alembic import op


revision: str = "0031"
down_revision: Union[str, Sequence[str], None] = "0030"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE submissions ALTER COLUMN points TYPE jsonb USING points::jsonb")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE submissions ALTER COLUMN points TYPE json USING points::json")
