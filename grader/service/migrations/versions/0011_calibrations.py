"""calibrations fitted on instructors' reviewed grades, and the version each grade used

``calibrations`` keeps every fitted calibration of an assignment by version (immutable:
grades name it); ``assignments.calibration_version`` is the one new grades use (NULL:
none). A grade records the calibration version it was computed with (``''``: none) and its
interval (its bounds also on the submission, for the review queue); the same submission may now have one grade per (rubric version, calibration
version), so the unique key grows by that column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "calibrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("rubric_version", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id", "version", name="uq_calibrations_version"),
    )
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("calibration_version", sa.String(length=32), nullable=True))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("interval_low", sa.Float(), nullable=True))
        batch.add_column(sa.Column("interval_high", sa.Float(), nullable=True))
    with op.batch_alter_table("grades") as batch:
        batch.add_column(
            sa.Column(
                "calibration_version", sa.String(length=32), nullable=False, server_default=""
            )
        )
        batch.add_column(sa.Column("interval", sa.JSON(), nullable=True))
        batch.drop_constraint("uq_grades_submission_rubric", type_="unique")
        batch.create_unique_constraint(
            "uq_grades_submission_rubric",
            ["submission_id", "rubric_version", "calibration_version"],
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("grades") as batch:
        batch.drop_constraint("uq_grades_submission_rubric", type_="unique")
        batch.create_unique_constraint(
            "uq_grades_submission_rubric", ["submission_id", "rubric_version"]
        )
        batch.drop_column("interval")
        batch.drop_column("calibration_version")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("interval_high")
        batch.drop_column("interval_low")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("calibration_version")
    op.drop_table("calibrations")
