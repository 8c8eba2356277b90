"""Releasing grades to learners: one, or many with claimed ones held back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, false, select, true
from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import (
    MAX_ID,
    Role,
    Status,
    Submission,
    User,
    utcnow,
)
from . import notifications
from .events import GRADE_UNRELEASED, audit, emit
from .grades import effective_grade, mark_released, released_grade, summary
from .reviews import claimed_by_other, ensure_unclaimed, written


def release(session: Session, sub: Submission, actor: User) -> bool:
    """Release a graded submission to its learner, or a released one's newer grade that
    waits for release (a regrade after the release). Returns False if there was nothing to
    release. Another instructor's live claim holds it (409 ``claimed``), on every entry point."""
    if sub.status == Status.RELEASED and not sub.release_pending:
        return False
    ensure_unclaimed(session, sub, actor)
    embargo = sub.assignment.release_after
    if embargo is not None and utcnow() < embargo:
        raise APIError(
            409,
            "embargoed",
            f"grades of this assignment are released from {embargo:%Y-%m-%d %H:%M} UTC",
        )
    if sub.status not in (Status.GRADED, Status.RELEASED):
        raise APIError(
            409,
            "not_releasable",
            f"only graded submissions can be released (this one is {sub.status})",
        )
    again = sub.status == Status.RELEASED
    before = released_grade(session, sub) if again else None
    sub.status = Status.RELEASED
    sub.released_at = utcnow()
    eff = effective_grade(session, sub)
    mark_released(sub, eff)
    audit(
        session,
        sub,
        "released",
        actor=actor,
        before=summary(before) if before else None,
        after=summary(eff) if eff else None,
        reason="a newer grade replaces the released one" if again else None,
    )
    emit(session, "grade.released", sub)
    learner = session.get(User, sub.learner_id)
    if learner is not None and learner.role == Role.LEARNER:
        total = f"{eff['total']:g} / {eff['max_total']:g}" if eff else "your grade"
        done = "was updated" if again else "is released"
        what = f"Your grade for {sub.assignment.title} {done}"
        notifications.notify(
            session,
            [learner],
            notifications.GRADE_RELEASED,
            what,
            f"{what}: {total}.",
            submission=sub,
            link=f"/submissions/{sub.id}",
        )
    return True


def unrelease(session: Session, sub: Submission, actor: User, reason: str) -> None:
    """Withdraw a released grade (back to graded, for review), with the reason, which the
    learner is told; the history records it, and a course platform hears of it."""
    reason = str(written(reason, "reason", "give the learner a reason for withdrawing the grade"))
    if sub.status != Status.RELEASED:
        raise APIError(409, "not_released", "only a released grade can be withdrawn")
    ensure_unclaimed(session, sub, actor)
    sub.status = Status.GRADED
    sub.released_at = None
    mark_released(sub, None)
    # To be looked at again: not reviewed any more, so no bulk release (reviewed, by
    # confidence) takes it back unseen, and it is no calibration label until reviewed.
    sub.reviewed = False
    eff = effective_grade(session, sub)
    audit(
        session, sub, "unreleased", actor=actor, before=summary(eff) if eff else None, reason=reason
    )
    emit(session, GRADE_UNRELEASED, sub)
    learner = session.get(User, sub.learner_id)
    if learner is not None and learner.role == Role.LEARNER:
        notifications.notify(
            session,
            [learner],
            notifications.GRADE_UNRELEASED,
            f"Your grade for {sub.assignment.title} was withdrawn",
            f"Your instructor withdrew your grade for {sub.assignment.title} to look at it "
            f"again:\n\n{reason}",
            submission=sub,
            link=f"/submissions/{sub.id}",
        )


def release_many(
    session: Session, subs: Iterable[Submission], actor: User
) -> tuple[list[int], list[int]]:
    """Release each graded submission; those another instructor has claimed are held back.
    Returns (released ids, held ids)."""
    released: list[int] = []
    held: list[int] = []
    for sub in subs:
        if claimed_by_other(sub, actor):
            held.append(sub.id)
        elif release(session, sub, actor):
            released.append(sub.id)
    return released, held


def selection(
    assignment_id: int,
    mode: str,
    *,
    min_confidence: float | None = None,
    ids: Sequence[int] = (),
) -> Select[Submission]:
    """The current graded submissions a bulk release takes, with released ones whose newer
    grade waits for release: ``reviewed`` (reviewed, not waiting: a waiting grade is new to
    the reviewer), ``all``, ``confidence`` (at or above min_confidence, and never a grade
    with a review reason) or ``ids`` (those listed)."""
    query: Select[Submission] = select(Submission).where(
        Submission.assignment_id == assignment_id,
        Submission.current,
        (Submission.status == Status.GRADED)
        | ((Submission.status == Status.RELEASED) & Submission.release_pending == true()),
    )
    if mode == "reviewed":
        query = query.where(Submission.reviewed.is_(True), Submission.release_pending == false())
    elif mode == "confidence":
        assert min_confidence is not None
        query = query.where(Submission.confidence >= min_confidence, Submission.review_codes == ",")
    elif mode == "ids":
        # Ids are 32-bit: larger ones cannot exist (and the database would refuse them).
        query = query.where(Submission.id.in_([i for i in ids if 0 < i <= MAX_ID]))
    return query.order_by(Submission.id)
