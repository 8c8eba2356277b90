"""Notifications: what a user should know (a grade released, a regrade request answered or
arriving), kept in the app with an unread count; grader.service.mail mails them too when
SMTP is configured."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import MAX_ID, Assignment, Notification, Role, Submission, User, utcnow

#: What a notification can be about.
GRADE_RELEASED = "grade_released"
REQUEST_ANSWERED = "regrade_answered"
REQUEST_ARRIVED = "regrade_requested"
GRADE_UNRELEASED = "grade_unreleased"
KINDS = (GRADE_RELEASED, REQUEST_ANSWERED, REQUEST_ARRIVED, GRADE_UNRELEASED)


def notify(
    session: Session,
    users: Iterable[User],
    kind: str,
    subject: str,
    body: str,
    *,
    submission: Submission | None = None,
    link: str | None = None,
) -> list[Notification]:
    """One notification per active user, in the same transaction as the change it tells of
    (so it exists exactly when the change does)."""
    assert kind in KINDS, kind
    made = []
    for user in users:
        if not user.active:
            continue
        note = Notification(
            user_id=user.id,
            kind=kind,
            subject=subject[:200],
            body=body,
            link=link,
            submission_id=submission.id if submission is not None else None,
            # The address at the time; grader.service.mail decides whether it is mailed.
            email_to=user.email,
        )
        session.add(note)
        made.append(note)
    session.flush()
    return made


def staff_for(session: Session, assignment: Assignment) -> list[User]:
    """Who hears of an assignment's regrade requests: the instructor who created it, or,
    without one, every active instructor."""
    if assignment.created_by_id is not None:
        owner = session.get(User, assignment.created_by_id)
        if owner is not None and owner.active and owner.role in (Role.INSTRUCTOR, Role.ADMIN):
            return [owner]
    return list(
        session.scalars(
            select(User)
            .where(User.role == Role.INSTRUCTOR, User.active.is_(True))
            .order_by(User.id)
        )
    )


def inbox(
    session: Session, user: User, *, unread_only: bool = False, limit: int = 50
) -> list[Notification]:
    """A user's notifications, newest first."""
    query = select(Notification).where(
        Notification.user_id == user.id, Notification.kind.in_(KINDS)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def get_own(session: Session, user: User, note_id: int) -> Notification | None:
    """One of the user's notifications by id; others' do not exist for them."""
    note = session.get(Notification, note_id) if 0 < note_id <= MAX_ID else None
    return note if note is not None and note.user_id == user.id and note.kind in KINDS else None


def unread_count(session: Session, user: User) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user: User, ids: Sequence[int] | None = None) -> int:
    """Mark the user's notifications read (those listed, or all); others' are untouched.
    Returns how many changed."""
    query = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_([i for i in ids if 0 < i <= MAX_ID]))
    result = session.execute(query.values(read_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def notification_json(note: Notification) -> dict[str, object]:
    return {
        "id": note.id,
        "kind": note.kind,
        "subject": note.subject,
        "body": note.body,
        "link": note.link,
        "submission_id": note.submission_id,
        "read": note.read_at is not None,
        "created_at": note.created_at.isoformat(),
    }
