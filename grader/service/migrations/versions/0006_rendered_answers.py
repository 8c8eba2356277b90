"""rendered answers kept with their grade

``grades.answer_html`` holds the answer rendered once, by the worker, with that grade's
evidence marked, and ``grades.answer_anchors`` the id of each quote's first mark, so pages
never render an answer per view. Rows from before this revision stay NULL and are rendered
(and stored) the first time they are shown.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("grades") as batch:
        batch.add_column(sa.Column("answer_html", sa.Text(), nullable=True))
        batch.add_column(sa.Column("answer_anchors", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("grades") as batch:
        batch.drop_column("answer_anchors")
        batch.drop_column("answer_html")
