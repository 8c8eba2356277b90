"""Assignments: finding one by its slug (a 404 for an unknown one), and when it takes
answers (:func:`admit`: the one rule every way of submitting goes through)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import APIError, not_found
from ..models import Assignment

LATE_POLICIES = ("accept", "refuse")


@dataclass(frozen=True, slots=True)
class Window:
    """When an assignment takes answers: from ``opens_at`` (None: always), until ``due_at``
    (None: no deadline), after which ``late_policy`` accepts them marked late, or refuses."""

    opens_at: datetime | None = None
    due_at: datetime | None = None
    late_policy: str = "accept"
    # Only enrolled learners may answer (grader.service.operations.enrolments).
    restricted: bool = False

    @classmethod
    def of(cls, a: Assignment) -> Window:
        return cls(a.opens_at, a.due_at, a.late_policy, a.restricted)


def get_assignment(session: Session, slug: str) -> Assignment:
    a = session.scalar(select(Assignment).where(Assignment.slug == slug))
    if a is None:
        raise not_found("assignment")
    return a


def admit(window: Window, now: datetime) -> bool:
    """Whether an answer sent at ``now`` is late; a 409 naming the time when the assignment
    is not open yet, or past due and refusing late answers."""
    if window.opens_at is not None and now < window.opens_at:
        raise APIError(
            409,
            "not_open",
            f"this assignment opens at {window.opens_at:%Y-%m-%d %H:%M} UTC",
        )
    late = window.due_at is not None and now > window.due_at
    if late and window.late_policy == "refuse":
        raise APIError(
            409,
            "past_due",
            f"this assignment was due at {window.due_at:%Y-%m-%d %H:%M} UTC and takes no "
            "late answers",
        )
    return late
