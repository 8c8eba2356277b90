"""Assignments: finding one by its slug (a 404 for an unknown one), when it takes answers
(:func:`admit`: the one rule every way of submitting goes through), and who reviewers see
as an answer's author (:func:`shown_learner`: blind review)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ..errors import APIError, not_found
from ..models import Assignment, Submission, User

LATE_POLICIES = ("accept", "refuse")
#: What an assignment's slug may be (the API's contract declares the same pattern).
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


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


def learner_shown(
    blind: bool, submission_id: int, learner_id: int, name: str, released: bool
) -> dict[str, Any]:
    """The author of an answer as reviewers see it: under blind review, until the grade is
    released, a name made from the answer's id (never the learner's id, name or email)."""
    if blind and not released:
        return {"id": None, "name": f"Anonymous #{submission_id}"}
    return {"id": learner_id, "name": name}


def shown_learner(sub: Submission, *, to_staff: bool = True) -> dict[str, Any]:
    """:func:`learner_shown` for a loaded submission (the learner and their platform always
    see the learner)."""
    return learner_shown(
        to_staff and sub.assignment.blind_review,
        sub.id,
        sub.learner_id,
        sub.learner.name,
        sub.released_at is not None,
    )


def author_visible() -> ColumnElement[bool]:
    """The SQL condition that an answer's author may be named to staff (the rule of
    :func:`learner_shown`): for queries that filter by learner, so they find no answer
    whose author blind review hides. The query must join Assignment."""
    return Assignment.blind_review.is_(False) | Submission.released_at.is_not(None)


def create_assignment(
    session: Session,
    actor: User,
    *,
    slug: str,
    rubric_file: str,
    rubrics_dir: str,
    title: str | None = None,
    **settings: Any,
) -> Assignment:
    """A new assignment on a rubric file of the rubrics folder (409 if the slug is taken);
    ``settings`` are the other columns (times, policies). The caller commits."""
    from . import rubrics

    if not isinstance(slug, str) or not re.match(SLUG_PATTERN, slug):
        raise APIError(
            422,
            "invalid_slug",
            "the slug must be lower-case letters, digits and dashes (at most 64)",
            field="slug",
        )
    if title is not None and len(title.strip()) > 200:
        raise APIError(422, "invalid_title", "the title is at most 200 characters", field="title")
    if session.scalar(select(Assignment.id).where(Assignment.slug == slug)) is not None:
        raise APIError(409, "exists", f"an assignment {slug!r} already exists", field="slug")
    version = rubrics.store_rubric(session, rubrics.rubric_path(rubrics_dir, rubric_file))
    rubric = rubrics.rubric_for(version)
    a = Assignment(
        slug=slug,
        title=(title or rubric.title).strip(),
        rubric_file=rubric_file,
        rubric_version=version.version,
        created_by_id=actor.id,
        **settings,
    )
    session.add(a)
    session.flush()
    return a
