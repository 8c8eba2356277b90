"""An assignment's course on the pages: who is enrolled, adding learners by address,
taking one out, and restricting the assignment to them."""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..auth import STAFF
from ..db import get_db
from ..errors import APIError
from ..models import MAX_ID
from ..operations import enrolments
from ..operations.assignments import get_assignment
from .blueprint import bp, notify
from .session import current_user, signed_in

_SPLIT = re.compile(r"[\s,;]+")


def render_course(
    slug: str, *, error: str | None = None, emails: str = "", status: int = 200
) -> tuple[str, int]:
    session = get_db().session
    a = get_assignment(session, slug)
    html = render_template(
        "web/course.html",
        assignment=a,
        learners=enrolments.enrolled(session, a),
        total=enrolments.count(session, a),
        error=error,
        emails=emails,
    )
    return html, status


@bp.get("/dashboard/<slug>/learners")
@signed_in(*STAFF)
def course(slug: str) -> tuple[str, int]:
    return render_course(slug)


@bp.post("/dashboard/<slug>/learners")
@signed_in(*STAFF)
def enrol_learners(slug: str) -> Any:
    session = get_db().session
    a = get_assignment(session, slug)
    emails = request.form.get("emails", "")
    try:
        added, already = enrolments.enrol(
            session, a, current_user(), [e for e in _SPLIT.split(emails) if e]
        )
    except APIError as exc:
        session.rollback()
        message = exc.message[0].upper() + exc.message[1:] + ". Nobody was added."
        return render_course(slug, error=message, emails=emails[:20000], status=exc.status)
    session.commit()
    notify(f"Added {len(added)}" + (f"; {len(already)} were enrolled already." if already else "."))
    return redirect(url_for("web.course", slug=slug), code=303)


@bp.post("/dashboard/<slug>/learners/<int:user_id>/remove")
@signed_in(*STAFF)
def unenrol_learner(slug: str, user_id: int) -> Response:
    session = get_db().session
    a = get_assignment(session, slug)
    if 0 < user_id <= MAX_ID and enrolments.unenrol(session, a, user_id):
        session.commit()
        notify("Taken out of the course; their submissions stay.")
    else:
        notify("That person is not enrolled.", "error")
    return redirect(url_for("web.course", slug=slug), code=303)


@bp.post("/dashboard/<slug>/restricted")
@signed_in(*STAFF)
def set_restricted(slug: str) -> Response:
    session = get_db().session
    a = get_assignment(session, slug)
    a.restricted = request.form.get("restricted") == "1"
    session.commit()
    get_db().forget_window(a.slug)
    notify(
        "Only enrolled learners see this assignment now."
        if a.restricted
        else "Every learner sees this assignment now."
    )
    return redirect(url_for("web.course", slug=slug), code=303)
