"""Release by measured risk: for each confidence level, how many graded answers a release by
confidence would take now, and how far the grades at that level were from the instructors'
on the newest reviewed answers (the calibration's labels: by submission, the latest
submitted first)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..models import Assignment, Status, Submission
from . import statistics
from .calibrations import reviewed

__all__ = ["RISK_LEVELS", "RISK_SAMPLE", "release_risk"]

#: The confidence levels the dashboard weighs a bulk release at.
RISK_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
#: Off by more than this many points of 100 counts as wrong.
_WRONG = 15.0
#: The error columns are measured on the newest reviewed submissions, this many at most
#: (those of another rubric version among them are left out):
#: enough to tell a 2% share of wrong grades from a 6% one, and a dashboard view that does
#: not grow with the assignment (reading 37,000 reviewed answers took 1.3 s, 1,000 take
#: about 60 ms).
RISK_SAMPLE = 1000


def release_risk(
    session: Session, a: Assignment, stamp: statistics.Stamp | None = None
) -> list[dict[str, Any]]:
    """For each confidence level: how many graded answers a release by confidence would
    release now (grades with review reasons never are), and, among the reviewed answers at
    or above that level, how far the grades were from the instructors' (mean, and the share
    off by more than 15 points of 100), over the :data:`RISK_SAMPLE` newest. Kept until
    a current answer of the assignment changes (statistics.cached), so a dashboard reload
    does not read the reviewed grades again."""
    return statistics.cached(
        session, "release_risk", a.id, lambda: _release_risk(session, a), stamp
    )


def _release_risk(session: Session, a: Assignment) -> list[dict[str, Any]]:
    # Counted in the database, one pass: the graded answers a release at each level takes.
    waiting = session.execute(
        select(
            *(
                func.coalesce(func.sum(case((Submission.confidence >= level, 1), else_=0)), 0)
                for level in RISK_LEVELS
            )
        ).where(
            Submission.assignment_id == a.id,
            Submission.current,
            Submission.status == Status.GRADED,
            Submission.review_codes == ",",
        )
    ).one()
    errors = []
    for _, grade, kept in reviewed(session, a, points=False, newest=RISK_SAMPLE):
        # The grade as the instructor saw it, against what they kept.
        scale = 100.0 / (grade.max_total or 100.0)
        error = abs(float(grade.total) - sum(kept.values())) * scale
        errors.append((float(grade.confidence), error))
    rows = []
    for level, would_release in zip(RISK_LEVELS, waiting, strict=True):
        above = [e for c, e in errors if c >= level]
        rows.append(
            {
                "level": level,
                "would_release": int(would_release),
                "reviewed": len(above),
                "mean_error": round(sum(above) / len(above), 1) if above else None,
                "share_wrong": round(sum(e > _WRONG for e in above) / len(above), 3)
                if above
                else None,
            }
        )
    return rows
