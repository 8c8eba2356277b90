"""Regrade requests: after release a learner asks an instructor to look again at one
criterion (once per criterion and submission version, within REGRADE_REQUEST_DAYS); the
instructor keeps the points or changes them, with a reply the learner reads. Every step is in
the submission's history, raises a platform event and notifies the other side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import MAX_ID, RegradeRequest, Status, Submission, User, utcnow
from . import notifications
from .events import REGRADE_ANSWERED, REGRADE_REQUESTED, audit, emit
from .grades import released_grade
from .reviews import MAX_REASON, ensure_unclaimed, override, written

#: The longest message or reply.
MAX_MESSAGE = MAX_REASON
OUTCOMES = ("kept", "changed")


def _text(value: str | None, field: str, what: str) -> str:
    return str(written(value, field, f"write {what}"))


def ask(
    session: Session,
    sub: Submission,
    learner: User,
    criterion: str,
    message: str,
    *,
    window_days: float,
) -> RegradeRequest:
    """A learner's request about one criterion of their released, current grade."""
    if learner.id != sub.learner_id:
        raise APIError(403, "forbidden", "only the learner who submitted can ask for a regrade")
    if sub.status != Status.RELEASED or sub.released_at is None:
        raise APIError(409, "not_released", "a regrade can be asked for once the grade is released")
    if not sub.current:
        raise APIError(
            409, "superseded", "this answer was replaced by a newer one: ask about that one"
        )
    closes = sub.released_at + timedelta(days=window_days)
    if utcnow() > closes:
        raise APIError(
            409,
            "request_window_closed",
            f"regrade requests closed on {closes:%Y-%m-%d %H:%M} UTC",
        )
    message = _text(message, "message", "what you would like the instructor to look at again")
    eff = released_grade(session, sub)  # what the learner has (a newer grade may wait)
    assert eff is not None
    names = {c["id"]: c["name"] for c in eff["criteria"]}
    if criterion not in names:
        raise APIError(
            422,
            "invalid_criterion",
            f"unknown criterion {criterion!r}; use one of {', '.join(names)}",
            field="criterion",
        )
    req = RegradeRequest(
        submission_id=sub.id, criterion=criterion, message=message, learner_id=learner.id
    )
    try:
        with session.begin_nested():
            session.add(req)
            session.flush()
    except IntegrityError:
        raise APIError(
            409,
            "already_requested",
            f"you already asked for a regrade of {names[criterion]} for this answer",
            field="criterion",
        ) from None
    _count_open(session, sub, +1)
    audit(
        session,
        sub,
        "regrade_requested",
        actor=learner,
        after={"request": req.id, "criterion": criterion},
        reason=message,
    )
    emit(session, REGRADE_REQUESTED, sub)
    notifications.notify(
        session,
        notifications.staff_for(session, sub.assignment),
        notifications.REQUEST_ARRIVED,
        f"Regrade request: {names[criterion]} ({sub.assignment.title})",
        f"{sub.learner.name} asks you to look again at {names[criterion]}:\n\n{message}",
        submission=sub,
        link=f"/review/submissions/{sub.id}",
    )
    return req


def answer(
    session: Session,
    req: RegradeRequest,
    instructor: User,
    outcome: str,
    reply: str,
    points: float | None = None,
) -> RegradeRequest:
    """The instructor's answer: keep the points, or change them (an override whose comment
    is the reply); the learner is told either way."""
    sub = session.get(Submission, req.submission_id)
    assert sub is not None
    if req.outcome is not None:
        raise APIError(409, "already_answered", "this request has been answered")
    if outcome not in OUTCOMES:
        raise APIError(422, "invalid_outcome", "'outcome' must be kept or changed", field="outcome")
    reply = _text(reply, "reply", "a reply for the learner")
    if outcome == "changed" and points is None:
        raise APIError(
            422, "points_required", "give the new points for a changed grade", field="points"
        )
    if outcome == "kept" and points is not None:
        raise APIError(422, "invalid_points", "points go with outcome changed only", field="points")
    ensure_unclaimed(session, sub, instructor)
    # Answered once: the row is claimed in the database, so two instructors answering at
    # the same moment cannot both change the grade.
    now = utcnow()
    claimed = session.execute(
        update(RegradeRequest)
        .where(RegradeRequest.id == req.id, RegradeRequest.outcome.is_(None))
        .values(outcome=outcome, reply=reply, answered_by_id=instructor.id, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        raise APIError(409, "already_answered", "this request has just been answered")
    session.refresh(req)
    if outcome == "changed":
        assert points is not None
        # The reply is the override's reason and comment (the history's next entry names
        # the request).
        override(session, sub, instructor, req.criterion, points, reply, reply)
    _count_open(session, sub, -1)
    audit(
        session,
        sub,
        "regrade_answered",
        actor=instructor,
        after={"request": req.id, "criterion": req.criterion, "outcome": outcome},
        reason=reply,
    )
    emit(session, REGRADE_ANSWERED, sub)
    learner = session.get(User, req.learner_id)
    if learner is not None:
        name = _criterion_name(session, sub, req.criterion)
        verb = "changed your points" if outcome == "changed" else "kept your points"
        notifications.notify(
            session,
            [learner],
            notifications.REQUEST_ANSWERED,
            f"Your regrade request was answered: {name}",
            f"Your instructor {verb} for {name} ({sub.assignment.title}):\n\n{reply}",
            submission=sub,
            link=f"/submissions/{sub.id}",
        )
    return req


def _count_open(session: Session, sub: Submission, change: int) -> None:
    """Move the submission's count of open requests in SQL (concurrent requests on other
    criteria must not lose each other's count)."""
    session.execute(
        update(Submission)
        .where(Submission.id == sub.id)
        .values(open_requests=Submission.open_requests + change)
        .execution_options(synchronize_session=False)
    )
    session.refresh(sub, ["open_requests"])


def _criterion_name(session: Session, sub: Submission, criterion: str) -> str:
    eff = released_grade(session, sub)
    names = {c["id"]: c["name"] for c in eff["criteria"]} if eff else {}
    return str(names.get(criterion, criterion))


def requests_for(session: Session, submission_id: int) -> list[RegradeRequest]:
    """A submission's requests, oldest first."""
    return list(
        session.scalars(
            select(RegradeRequest)
            .where(RegradeRequest.submission_id == submission_id)
            .order_by(RegradeRequest.id)
        )
    )


def get_request(session: Session, request_id: int) -> RegradeRequest | None:
    return session.get(RegradeRequest, request_id) if 0 < request_id <= MAX_ID else None


def latest(session: Session, submission_id: int, *, answered: bool) -> RegradeRequest | None:
    """The submission's most recently asked (or answered) request, for platform events."""
    column = RegradeRequest.answered_at if answered else RegradeRequest.created_at
    return session.scalar(
        select(RegradeRequest)
        .where(RegradeRequest.submission_id == submission_id, column.is_not(None))
        .order_by(column.desc(), RegradeRequest.id.desc())
        .limit(1)
    )


def request_json(req: RegradeRequest) -> dict[str, Any]:
    return {
        "id": req.id,
        "submission_id": req.submission_id,
        "criterion": req.criterion,
        "message": req.message,
        "status": "answered" if req.outcome else "open",
        "outcome": req.outcome,
        "reply": req.reply,
        "created_at": req.created_at.isoformat(),
        "answered_at": req.answered_at.isoformat() if req.answered_at else None,
    }
