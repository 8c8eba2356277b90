"""review reasons: why a grade needs an instructor's eye

Every grade now says why it is below the auto-release level (``grades.review_reasons``: a
list of {code, message}); the submission keeps the codes of its effective grade
(``submissions.review_codes``, ",code1,code2,") so the review queue can show and filter
them in SQL, as it does the flags. Existing rows get an empty list.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("grades") as batch:
        batch.add_column(sa.Column("review_reasons", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(
            sa.Column("review_codes", sa.String(length=500), nullable=False, server_default=",")
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("review_codes")
    with op.batch_alter_table("grades") as batch:
        batch.drop_column("review_reasons")
