"""platforms that hear of releases also hear of withdrawn grades (grade.unreleased)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01

"""

import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0021"
down_revision: Union[str, Sequence[str], None] = "0020"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_PLATFORMS = sa.table("platforms", sa.column("id", sa.Integer), sa.column("events", sa.JSON))


def _events(value: object) -> list[str]:
    if isinstance(value, str):  # some drivers hand JSON back as text
        value = json.loads(value)
    return [str(e) for e in value] if isinstance(value, list) else []


def upgrade() -> None:
    """A platform that shows released grades must learn when one is withdrawn."""
    conn = op.get_bind()
    for ident, events in conn.execute(sa.select(_PLATFORMS.c.id, _PLATFORMS.c.events)).all():
        wanted = _events(events)
        if "grade.released" in wanted and "grade.unreleased" not in wanted:
            wanted.insert(wanted.index("grade.released") + 1, "grade.unreleased")
            conn.execute(
                _PLATFORMS.update().where(_PLATFORMS.c.id == ident).values(events=wanted)
            )


def downgrade() -> None:
    """Downgrade schema."""
    conn = op.get_bind()
    for ident, events in conn.execute(sa.select(_PLATFORMS.c.id, _PLATFORMS.c.events)).all():
        wanted = [e for e in _events(events) if e != "grade.unreleased"]
        conn.execute(_PLATFORMS.update().where(_PLATFORMS.c.id == ident).values(events=wanted))
