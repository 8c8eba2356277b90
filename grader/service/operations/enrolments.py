"""Enrolments: who is in an assignment's course. A restricted assignment is seen and
answered only by its enrolled learners (others get a 404, as for an unknown assignment);
staff always may, and course platforms keep their own rosters (their webhook submissions are
not checked here)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError, not_found
from ..models import Assignment, Enrolment, Role, User

#: The most addresses one request enrols.
MAX_BATCH = 5000


def may_take(session: Session, assignment_id: int, restricted: bool, user: User) -> bool:
    """Whether user may see and answer the assignment."""
    if not restricted or user.role != Role.LEARNER:
        return True
    found = session.scalar(
        select(Enrolment.id).where(
            Enrolment.assignment_id == assignment_id, Enrolment.user_id == user.id
        )
    )
    return found is not None


def ensure_may_take(session: Session, assignment_id: int, restricted: bool, user: User) -> None:
    """404 ``not_found`` for a learner outside a restricted assignment's course (the
    assignment does not exist for them): the one rule every page and API path goes through."""
    if not may_take(session, assignment_id, restricted, user):
        raise not_found("assignment")


def visible_ids(session: Session, user: User) -> set[int] | None:
    """The assignments a learner may see (None: all of them, for staff)."""
    if user.role != Role.LEARNER:
        return None
    open_ids = session.scalars(select(Assignment.id).where(Assignment.restricted.is_(False)))
    mine = session.scalars(select(Enrolment.assignment_id).where(Enrolment.user_id == user.id))
    return set(open_ids) | set(mine)


def enrol(
    session: Session, a: Assignment, actor: User, emails: Sequence[str]
) -> tuple[list[User], list[User]]:
    """Enrol the learners with these addresses: (added, already enrolled). All or nothing:
    an address without a learner account is a 422 naming it (create the accounts first)."""
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    if not wanted:
        raise APIError(422, "invalid_emails", "give at least one email address", field="emails")
    if len(wanted) > MAX_BATCH:
        raise APIError(
            422, "invalid_emails", f"at most {MAX_BATCH} addresses at a time", field="emails"
        )
    users = {
        (u.email or "").lower(): u
        for u in session.scalars(select(User).where(func.lower(User.email).in_(wanted)))
    }
    missing = [e for e in wanted if e not in users or users[e].role != Role.LEARNER]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise APIError(
            422,
            "unknown_learners",
            f"no learner account for {shown}: create the accounts first",
            field="emails",
        )
    have = set(
        session.scalars(
            select(Enrolment.user_id).where(
                Enrolment.assignment_id == a.id,
                Enrolment.user_id.in_([u.id for u in users.values()]),
            )
        )
    )
    added, already = [], []
    for email in wanted:
        user = users[email]
        if user.id in have:
            already.append(user)
            continue
        try:
            with session.begin_nested():  # another request may be enrolling them now
                session.add(Enrolment(assignment_id=a.id, user_id=user.id, added_by_id=actor.id))
        except IntegrityError:
            already.append(user)
            continue
        added.append(user)
    return added, already


def unenrol(session: Session, a: Assignment, user_id: int) -> bool:
    """Take a learner out of the course (their submissions stay). False if not enrolled."""
    result = session.execute(
        delete(Enrolment).where(Enrolment.assignment_id == a.id, Enrolment.user_id == user_id)
    )
    return bool(getattr(result, "rowcount", 0))


def enrolled(session: Session, a: Assignment, limit: int = 1000) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(Enrolment, Enrolment.user_id == User.id)
            .where(Enrolment.assignment_id == a.id)
            .order_by(User.name, User.id)
            .limit(limit)
        )
    )


def count(session: Session, a: Assignment) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Enrolment).where(Enrolment.assignment_id == a.id)
        )
        or 0
    )
