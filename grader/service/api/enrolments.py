"""An assignment's course: the learners enrolled in it (who may see and answer it when it is
restricted)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..auth import STAFF, current_user, require
from ..contracts import STAFF_ONLY, EnrolRequest, operation, parse
from ..contracts import responses as out
from ..db import get_db
from ..errors import not_found
from ..models import MAX_ID, User
from ..operations import enrolments
from ..operations.assignments import get_assignment
from .body import json_body

bp = Blueprint("enrolments", __name__)


def _learner(u: User) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "email": u.email}


def _course(session: Any, a: Any) -> dict[str, Any]:
    return {
        "restricted": a.restricted,
        "total": enrolments.count(session, a),
        "items": [_learner(u) for u in enrolments.enrolled(session, a)],
    }


@bp.get("/assignments/<slug>/learners")
@operation(
    "listCourseLearners",
    "The learners enrolled in the assignment's course",
    "assignments",
    {200: out.CourseLearners},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def index(slug: str) -> dict[str, Any]:
    session = get_db().session
    return _course(session, get_assignment(session, slug))


@bp.post("/assignments/<slug>/learners")
@operation(
    "enrolLearners",
    "Enrol learners by their email addresses (all or nothing)",
    "assignments",
    {200: out.Enrolled},
    errors=(401, 403, 404, 413, 415, 422),
    body=EnrolRequest,
    description=STAFF_ONLY + " An address without a learner account refuses the request "
    "(422 naming it); enrolling someone twice is harmless.",
)
@require(*STAFF)
def add(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    body = parse(EnrolRequest, json_body(limit=2 * 1024 * 1024))
    added, already = enrolments.enrol(session, a, current_user(), body.emails)
    session.commit()
    return {"added": [_learner(u) for u in added], "already": [_learner(u) for u in already]}


@bp.delete("/assignments/<slug>/learners/<int:user_id>")
@operation(
    "unenrolLearner",
    "Take a learner out of the course (their submissions stay)",
    "assignments",
    {200: out.CourseLearners},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def remove(slug: str, user_id: int) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    if not (0 < user_id <= MAX_ID) or not enrolments.unenrol(session, a, user_id):
        raise not_found("enrolled learner")
    session.commit()
    return _course(session, a)
