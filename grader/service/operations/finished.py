"""Regrades that need no reading, a batch at a time.

When a rubric changes only in its numbers or words (points, blends, curves, caps, hints),
each grade is finished from its latest grade's stored measurement
(:func:`grader.scoring.grade.finish_grade`): a fraction of a millisecond. What is left is
storing it, so a batch is stored in one transaction with a few statements for all of it
(the submissions locked and read, their latest grades, overrides and released grades read
at once, the new grades and audit events inserted together), by the same rule as a single
regrade (:func:`~grader.service.operations.grades.record_grade`). Answers this cannot do
(no measurement, a rubric that reads answers differently, evidence that changes the
rendered answer) are handed back for grading one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.scoring.grade import finish_grade
from grader.scoring.learning import Calibration, apply_to
from grader.scoring.rubric import Rubric

from ..models import Assignment, AuditEvent, Grade, Override, RubricVersion, Status, Submission
from ..render import evidence_quotes
from .grades import WITH_MEASUREMENT, effective_grade, grade_values, record_grade
from .rubrics import parsed, rubric_for

__all__ = ["finish_batch", "reused_view"]

T = TypeVar("T")

#: ``(calibration version, rubric)`` -> the calibration grades are computed with.
CalibrationFor = Callable[[str, Rubric], Calibration | None]


def finish_batch(
    session: Session, submission_ids: Sequence[int], calibration_for: CalibrationFor
) -> tuple[int, list[int]]:
    """Regrade what of ``submission_ids`` needs no reading, in one transaction: returns
    (how many were regraded or had nothing to do, the ids left to grade one by one)."""
    try:
        return _finish(session, submission_ids, calibration_for)
    except IntegrityError:  # one was graded meanwhile: one by one settles each
        return 0, list(submission_ids)


def _finish(
    session: Session, submission_ids: Sequence[int], calibration_for: CalibrationFor
) -> tuple[int, list[int]]:
    with session.begin():
        if session.get_bind().dialect.name == "sqlite":
            # SQLite's driver begins at the first write, and FOR UPDATE means nothing there:
            # take the write lock first, so what is read below is what is written against.
            raw = session.connection().connection.dbapi_connection
            if raw is not None and not raw.in_transaction:
                raw.execute("BEGIN IMMEDIATE")
        subs = list(
            session.scalars(
                select(Submission)
                .where(Submission.id.in_(list(submission_ids)))
                .order_by(Submission.id)
                .with_for_update(of=Submission)
            )
        )
        ids = [s.id for s in subs]
        latest_ids = select(func.max(Grade.id)).where(Grade.submission_id.in_(ids))
        latest = {
            g.submission_id: g
            for g in session.scalars(
                select(Grade)
                .options(*WITH_MEASUREMENT)
                .where(Grade.id.in_(latest_ids.group_by(Grade.submission_id)))
            )
        }
        overrides: dict[int, dict[str, Override]] = defaultdict(dict)
        for o in session.scalars(
            select(Override).where(Override.submission_id.in_(ids)).order_by(Override.id)
        ):
            overrides[o.submission_id][o.criterion] = o
        newest = {g.id for g in latest.values()}
        released = [
            s.released_grade_id
            for s in subs
            if s.released_grade_id is not None and s.released_grade_id not in newest
        ]
        if released:  # into the session's identity map: settling the release reads them
            list(session.scalars(select(Grade).where(Grade.id.in_(released))))
        graded_with = {
            (sid, version, calibration)
            for sid, version, calibration in session.execute(
                select(Grade.submission_id, Grade.rubric_version, Grade.calibration_version).where(
                    Grade.submission_id.in_(ids)
                )
            )
        }

        done, left = 0, [i for i in submission_ids if i not in set(ids)]
        rubrics: dict[int, tuple[Rubric, str, str]] = {}
        staged: list[tuple[Submission, Grade, dict | None]] = []
        for sub in subs:
            if sub.assignment_id not in rubrics:
                rubrics[sub.assignment_id] = _rubric(session, sub.assignment)
            # Grades are stored under the assignment's version, as one by one (a stored
            # version keeps its key even where this engine would hash it anew).
            rubric, version, calibration_version = rubrics[sub.assignment_id]
            if sub.status in (Status.QUEUED, Status.GRADING):
                left.append(sub.id)  # a first grading: it reads the answer
                continue
            if not _eligible(sub) or (sub.id, version, calibration_version) in graded_with:
                done += 1  # nothing to do, as a single grading would find (or did already)
                continue
            previous = latest.get(sub.id)
            scored = (
                finish_grade(previous.measured, rubric, previous.plan)
                if previous is not None
                else None
            )
            if previous is None or scored is None:
                left.append(sub.id)
                continue
            calibration = calibration_for(calibration_version, rubric)
            if calibration is not None:
                scored = apply_to(scored, calibration)
            # Not rendered before (the page renders it when shown): nor now.
            view = None
            if previous.answer_html is not None:
                view = reused_view(
                    previous.criteria,
                    previous.answer_html,
                    previous.answer_anchors,
                    [c.to_dict() for c in scored.criteria],
                )
                if view is None:
                    left.append(sub.id)  # the answer must be rendered again: one by one
                    continue
            before = effective_grade(session, sub, grade=previous, overrides=overrides[sub.id])
            grade = Grade(**grade_values(sub.id, version, scored, view))
            session.add(grade)
            staged.append((sub, grade, before))
        assign_ids(session, [grade for _, grade, _ in staged])
        session.flush()  # the new grades, inserted together
        # Everything record_grade reads is loaded above: without autoflush the audit events
        # stay pending until they have their ids, and go out together.
        with session.no_autoflush, added(session, AuditEvent) as events:
            for sub, grade, before in staged:
                record_grade(session, sub, grade, before, overrides[sub.id])
        assign_ids(session, events)
        done += len(staged)
    return done, left


def assign_ids(session: Session, rows: Sequence[Any]) -> None:
    """On PostgreSQL, give new rows their ids from the table's sequence in one query, in
    order: inserted without RETURNING they go out as one pipelined executemany, where a
    multi-row INSERT ... RETURNING of a whole batch is a statement of ~90 KB that psycopg
    parses again for every batch (a fifth of a points-only regrade's time)."""
    if not rows or session.get_bind().dialect.name != "postgresql":
        return
    table = type(rows[0]).__table__.name
    with session.no_autoflush:  # the rows must still be pending when they get their ids
        ids = session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n) "
                "ORDER BY 1"
            ),
            {"t": table, "n": len(rows)},
        ).all()
    for row, new_id in zip(rows, ids, strict=True):
        row.id = new_id


@contextmanager
def added(session: Session, kind: type[T]) -> Iterator[list[T]]:
    """The objects of ``kind`` added to the session inside the block, in order."""
    found: list[T] = []

    def seen(_: Session, obj: object) -> None:
        if isinstance(obj, kind):
            found.append(obj)

    event.listen(session, "transient_to_pending", seen)
    try:
        yield found
    finally:
        event.remove(session, "transient_to_pending", seen)


def reused_view(
    previous: Sequence[dict[str, Any]],
    html: str | None,
    anchors: dict[str, Any] | None,
    criteria: Sequence[dict[str, Any]],
) -> dict[str, Any] | None:
    """A previous grade's rendered answer (its ``html`` and ``anchors``, rendered with the
    ``previous`` criteria) for a new grade with ``criteria``, when it marks the same
    evidence under the same labels (it is rendered from nothing else); else None."""
    if html is None or evidence_quotes(previous)[0] != evidence_quotes(criteria)[0]:
        return None
    return {"answer_html": html, "answer_anchors": anchors}


def _eligible(sub: Submission) -> bool:
    """What a regrade grades (the worker's claim says the same in SQL): a current answer
    with a grade, unless it is released and its last regrade kept failing (it waits for
    the next regrade)."""
    if not sub.current or sub.status not in (Status.GRADED, Status.RELEASED):
        return False
    return not (sub.status == Status.RELEASED and sub.failure_reason is not None)


def _rubric(session: Session, a: Assignment) -> tuple[Rubric, str, str]:
    rubric = parsed(a.rubric_version)
    if rubric is None:
        stored = session.get(RubricVersion, a.rubric_version)
        assert stored is not None
        rubric = rubric_for(stored)
    return rubric, a.rubric_version, a.calibration_version or ""
