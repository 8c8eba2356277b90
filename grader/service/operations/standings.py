"""An assignment's standings: every current submission with its grade as it stands, read
in keyset pages from the submission rows, for the gradebook and the score distributions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from ..models import Override, Status, Submission, User
from .grades import effective_grade

__all__ = ["BATCH", "Standing", "standings"]


#: Submissions per page of :func:`standings`.
BATCH = 500


@dataclass(frozen=True, slots=True)
class Standing:
    """A current submission and its grade as it stands, read from its own row."""

    id: int
    learner_id: int
    learner: str
    email: str | None
    external_id: str | None  # the learner's id on their course platform
    version: int
    late: bool
    status: Status
    total: float | None
    max_total: float | None
    confidence: float | None
    released_at: datetime | None
    points: dict[str, float]  # effective points per criterion ({} before a grade)
    overridden: bool  # some criterion's points come from an instructor
    # The learner's counted released version of the assignment (the grade they have: the
    # latest released one, or the best by the assignment's counted_grade), an earlier one
    # when they resubmitted after a release: (version, total, released at, late, max total).
    released: tuple[int, float | None, datetime, bool, float | None] | None = None


def standings(
    session: Session,
    assignment_id: int,
    statuses: Sequence[Status] = (),
    batch: int = BATCH,
    counted: str = "latest",
    by_submission: bool = False,
) -> Iterator[Standing]:
    """Every current submission of an assignment (of ``statuses``, or all) with its grade as
    it stands, in learner order, in keyset pages of ``batch``: the submission rows carry the
    effective total and points (see :func:`denormalize`), so a page is two small queries
    and memory stays flat however large the assignment. (A row graded before the points
    were kept on it is read from its grades and overrides.) ``by_submission`` orders the
    rows by submission instead (blind review: a hidden row's place among learners in id
    order would tell who it is)."""
    columns = (
        Submission.id,
        Submission.learner_id,
        User.name,
        User.email,
        User.external_id,
        Submission.version,
        Submission.late,
        Submission.status,
        Submission.total,
        Submission.max_total,
        Submission.confidence,
        Submission.released_at,
        Submission.points,
    )
    after: tuple[int, int] | None = None
    key = (Submission.id,) if by_submission else (Submission.learner_id, Submission.id)
    while True:
        query = (
            select(*columns)
            .join(User, User.id == Submission.learner_id)
            .where(Submission.assignment_id == assignment_id, Submission.current)
            .order_by(*key)
            .limit(batch)
        )
        if statuses:
            query = query.where(Submission.status.in_(list(statuses)))
        if after is not None:
            query = query.where(
                Submission.id > after[1] if by_submission else tuple_(*key) > tuple_(*after)
            )
        rows = session.execute(query).all()
        if not rows:
            return
        ids = [r.id for r in rows]
        overridden = set(
            session.scalars(
                select(Override.submission_id).where(Override.submission_id.in_(ids)).distinct()
            )
        )
        released: dict[int, tuple[int, float | None, datetime, bool, float | None]] = {}
        best: dict[int, float] = {}
        for learner_id, version, total, at, late, out_of in session.execute(
            select(
                Submission.learner_id,
                Submission.version,
                # What the learner has (a newer grade may wait for release).
                func.coalesce(Submission.released_total, Submission.total),
                Submission.released_at,
                Submission.late,
                func.coalesce(Submission.released_max_total, Submission.max_total),
            )
            .where(
                Submission.assignment_id == assignment_id,
                Submission.learner_id.in_({r.learner_id for r in rows}),
                Submission.released_at.is_not(None),
            )
            .order_by(Submission.learner_id, Submission.version.desc())
        ):
            if at is None:  # the query asks for released ones only
                continue
            have = released.get(learner_id)
            share = (total or 0.0) / out_of if out_of else 0.0
            # Newest first: the latest is the first seen; the best is the highest share of
            # the maximum (rubric versions may differ in it), the later version on a tie.
            if have is None or (counted == "best" and share > best[learner_id]):
                released[learner_id] = (version, total, at, bool(late), out_of)
                best[learner_id] = share
        for r in rows:
            points = r.points
            if points is None and r.total is not None:
                sub = session.get(Submission, r.id)
                eff = effective_grade(session, sub) if sub is not None else None
                points = {c["id"]: c["points"] for c in eff["criteria"]} if eff else {}
            yield Standing(
                id=r.id,
                learner_id=r.learner_id,
                learner=r.name,
                email=r.email,
                external_id=r.external_id,
                version=r.version,
                late=bool(r.late),
                status=Status(r.status),
                total=r.total,
                max_total=r.max_total,
                confidence=r.confidence,
                released_at=r.released_at,
                points=dict(points or {}),
                overridden=r.id in overridden,
                released=released.get(r.learner_id),
            )
        if len(rows) < batch:
            return
        after = (rows[-1].learner_id, rows[-1].id)
