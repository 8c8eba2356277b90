"""The instructor's general comment on an answer, from the review page (reviews.comment)."""

from __future__ import annotations

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from ..auth import STAFF, load_submission
from ..db import get_db
from ..errors import APIError
from ..operations import reviews
from .blueprint import bp, notify
from .session import current_user, signed_in


@bp.post("/review/submissions/<int:submission_id>/comment")
@signed_in(*STAFF)
def set_comment(submission_id: int) -> Response:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    try:
        reviews.comment(session, sub, user, request.form.get("comment", ""))
        session.commit()
        notify("Comment saved: the learner reads it with the released grade.")
    except APIError as exc:
        session.rollback()
        notify(exc.message[0].upper() + exc.message[1:] + ".", "error")
    return redirect(
        url_for("web.review_submission", submission_id=sub.id, _anchor="comment-h"), code=303
    )
