"""Exports: the gradebook as CSV, streamed in batches so that memory and each query stay
small however many learners an assignment has.

Rows come in pages of :data:`BATCH` current submissions, in learner order (keyset on
learner id and submission id, so a page never re-reads earlier rows); each page loads its
latest grades and overrides in two queries, not two per submission. Text cells that a
spreadsheet would run as formulas are neutralised (CSV injection).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..models import Assignment, Grade, Override, Submission
from .grades import effective_grade
from .rubrics import rubric_for

#: Submissions per page of the export.
BATCH = 500

_CSV_UNSAFE = ("=", "+", "-", "@", "\t", "\r")
# Characters a spreadsheet skips before it looks for a formula sign.
_CSV_IGNORED = " \u00a0\u200b\u200c\u200d\u2060\ufeff"


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV injection), also when the formula
    sign is full-width (\uff1d) or follows spaces or invisible characters."""
    if isinstance(value, str) and value:
        head = unicodedata.normalize("NFKC", value.lstrip(_CSV_IGNORED)[:1])
        if head.startswith(_CSV_UNSAFE) or value.startswith(_CSV_UNSAFE):
            return "'" + value
    return value


def gradebook_filename(a: Assignment) -> str:
    return f"{a.slug}-grades.csv"


Lines = Iterator[str]


def gradebook_csv(session: Session, assignment_id: int, batch: int = BATCH) -> Lines:
    """The gradebook, line by line: one row per learner's current submission with each
    criterion's points, the total, the status, where the points come from and the release."""
    a = session.get(Assignment, assignment_id)
    if a is None:
        return
    ids = [c.id for c in rubric_for(a.rubric).criteria]
    out = io.StringIO()
    writer = csv.writer(out)

    def line(row: list[Any]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(row)
        return out.getvalue()

    yield line(
        [
            "learner_id",
            "learner",
            "submission",
            "version",
            *ids,
            "total",
            "max_total",
            "status",
            "source",
            "confidence",
            "released_at",
        ]
    )
    for page in _pages(session, a, batch):
        latest, overrides = _grades_of(session, [s.id for s in page])
        for sub in page:
            grade = latest.get(sub.id)
            eff = (
                effective_grade(session, sub, grade=grade, overrides=overrides.get(sub.id, {}))
                if grade is not None
                else None
            )
            points = {c["id"]: c["points"] for c in eff["criteria"]} if eff else {}
            source = ""
            if eff:
                overridden = any(c["source"] == "override" for c in eff["criteria"])
                source = "override" if overridden else "grader"
            yield line(
                [
                    sub.learner_id,
                    safe_cell(sub.learner.name),
                    sub.id,
                    sub.version,
                    *[points.get(i, "") for i in ids],
                    eff["total"] if eff else "",
                    eff["max_total"] if eff else "",
                    sub.status.value,
                    source,
                    eff["confidence"] if eff else "",
                    sub.released_at.isoformat() if sub.released_at else "",
                ]
            )
        session.expunge_all()  # what was read is written out: keep the identity map small


def _pages(session: Session, a: Assignment, batch: int) -> Iterator[list[Submission]]:
    after: tuple[int, int] | None = None
    while True:
        query = (
            select(Submission)
            .options(joinedload(Submission.learner))
            .where(Submission.assignment_id == a.id, Submission.current.is_(True))
            .order_by(Submission.learner_id, Submission.id)
            .limit(batch)
        )
        if after is not None:
            learner, sid = after
            query = query.where(
                or_(
                    Submission.learner_id > learner,
                    and_(Submission.learner_id == learner, Submission.id > sid),
                )
            )
        page = list(session.scalars(query))
        if not page:
            return
        yield page
        if len(page) < batch:
            return
        after = (page[-1].learner_id, page[-1].id)


def _grades_of(
    session: Session, ids: list[int]
) -> tuple[dict[int, Grade], dict[int, dict[str, Override]]]:
    """The latest grade and the latest override per criterion of each submission in ids."""
    newest = (
        select(func.max(Grade.id)).where(Grade.submission_id.in_(ids)).group_by(Grade.submission_id)
    )
    latest = {
        g.submission_id: g for g in session.scalars(select(Grade).where(Grade.id.in_(newest)))
    }
    overrides: dict[int, dict[str, Override]] = {}
    for o in session.scalars(
        select(Override).where(Override.submission_id.in_(ids)).order_by(Override.id)
    ):
        overrides.setdefault(o.submission_id, {})[o.criterion] = o
    return latest, overrides
