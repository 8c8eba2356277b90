"""Comment banks: per criterion, the comments instructors reuse in overrides (a bank the
instructors grow as they grade); the review page offers them in the comment field."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import MAX_ID, Assignment, BankComment, Submission, User
from .reviews import override, written
from .rubrics import rubric_for

#: The most comments one criterion's bank keeps.
MAX_PER_CRITERION = 200


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add(session: Session, a: Assignment, criterion: str, text: str, actor: User) -> BankComment:
    """Put a comment in the criterion's bank (once: the same text again counts a use)."""
    text = str(written(text, "text", "write the comment"))
    ids = [c.id for c in rubric_for(a.rubric).criteria]
    if criterion not in ids:
        raise APIError(
            422,
            "invalid_criterion",
            f"unknown criterion {criterion!r}; use one of {', '.join(ids)}",
            field="criterion",
        )
    digest = _digest(text)
    same = (
        BankComment.assignment_id == a.id,
        BankComment.criterion == criterion,
        BankComment.text_sha256 == digest,
    )
    if _count_use(session, same):
        return _one(session, same)
    count = len(bank(session, a).get(criterion, []))
    if count >= MAX_PER_CRITERION:
        raise APIError(
            409,
            "bank_full",
            f"the bank of {criterion} holds {MAX_PER_CRITERION} comments: remove some first",
        )
    try:
        with session.begin_nested():  # another instructor may be saving the same text
            session.add(
                BankComment(
                    assignment_id=a.id,
                    criterion=criterion,
                    text=text,
                    text_sha256=digest,
                    created_by_id=actor.id,
                )
            )
    except IntegrityError:
        _count_use(session, same)
    return _one(session, same)


def _count_use(session: Session, where: tuple[Any, ...]) -> bool:
    """One more use of an existing comment, counted in SQL; False if there is none."""
    done = session.execute(
        update(BankComment)
        .where(*where)
        .values(uses=BankComment.uses + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


def _one(session: Session, where: tuple[Any, ...]) -> BankComment:
    found = session.scalar(select(BankComment).where(*where))
    assert found is not None
    session.refresh(found)
    return found


def override_and_keep(
    session: Session,
    sub: Submission,
    instructor: User,
    criterion: str,
    points: float,
    reason: str,
    comment: str | None,
    keep: bool,
) -> dict[str, Any]:
    """An override (reviews.override) whose comment, with ``keep``, also goes into the
    criterion's bank, so the next answer like this one gets it in one key."""
    after = override(session, sub, instructor, criterion, points, reason, comment)
    if keep and comment and comment.strip():
        try:
            add(session, sub.assignment, criterion, comment, instructor)
        except APIError as exc:  # a full bank keeps the override; the comment is not saved
            if exc.code != "bank_full":
                raise
    return after


def bank(session: Session, a: Assignment) -> dict[str, list[BankComment]]:
    """The assignment's comments by criterion, most used first."""
    out: dict[str, list[BankComment]] = {}
    for c in session.scalars(
        select(BankComment)
        .where(BankComment.assignment_id == a.id)
        .order_by(BankComment.criterion, BankComment.uses.desc(), BankComment.id)
    ):
        out.setdefault(c.criterion, []).append(c)
    return out


def remove(session: Session, a: Assignment, comment_id: int) -> bool:
    found = session.get(BankComment, comment_id) if 0 < comment_id <= MAX_ID else None
    if found is None or found.assignment_id != a.id:
        return False
    session.delete(found)
    return True


def comment_json(c: BankComment) -> dict[str, object]:
    return {"id": c.id, "criterion": c.criterion, "text": c.text, "uses": c.uses}
