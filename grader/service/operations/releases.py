"""Releasing grades to learners: one, or many with claimed ones held back."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import (
    Status,
    Submission,
    User,
    utcnow,
)
from .events import audit, emit
from .grades import effective_grade, summary
from .reviews import claimed_by_other, ensure_unclaimed


def release(session: Session, sub: Submission, actor: User) -> bool:
    """Release a graded submission to its learner. Returns False if it was already released.

    Another instructor's live claim holds it (409 ``claimed``), on every entry point."""
    if sub.status == Status.RELEASED:
        return False
    ensure_unclaimed(session, sub, actor)
    if sub.status != Status.GRADED:
        raise APIError(
            409,
            "not_releasable",
            f"only graded submissions can be released (this one is {sub.status})",
        )
    sub.status = Status.RELEASED
    sub.released_at = utcnow()
    eff = effective_grade(session, sub)
    audit(session, sub, "released", actor=actor, after=summary(eff) if eff else None)
    emit(session, "grade.released", sub)
    return True


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
