"""lz4 for the large text columns on PostgreSQL

Every answer and every grade (criteria with evidence, the parsed plan) is several KB, so
PostgreSQL compresses it on write and decompresses it on read. lz4 does both several times
faster than the default pglz, which shows in the grading task's round trips. Only values
written from now on use it; SQLite and servers built without lz4 are left as they are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_COLUMNS = [
    ("submissions", "content"),
    ("grades", "criteria"),
    ("grades", "plan"),
    ("grades", "warnings"),
]


def _lz4_available() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bool(
        bind.execute(
            sa.text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
                " WHERE name = 'default_toast_compression'"
            )
        ).scalar()
    )


def _set(method: str) -> None:
    if not _lz4_available():
        return
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
