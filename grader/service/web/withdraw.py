"""Withdrawing a released grade from the review page (releases.unrelease)."""

from __future__ import annotations

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from ..auth import STAFF, load_submission
from ..db import get_db
from ..errors import APIError
from ..operations import releases
from .blueprint import bp, notify
from .session import current_user, signed_in


@bp.post("/review/submissions/<int:submission_id>/unrelease")
@signed_in(*STAFF)
def unrelease(submission_id: int) -> Response:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    try:
        releases.unrelease(session, sub, user, request.form.get("reason", ""))
        session.commit()
        notify("Withdrawn: the learner no longer sees the grade and is told why.")
    except APIError as exc:
        session.rollback()
        notify(exc.message[0].upper() + exc.message[1:] + ".", "error")
    return redirect(url_for("web.review_submission", submission_id=sub.id), code=303)
