"""The instructor's general comment on an answer, from the review page (reviews.comment)."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from ..auth import STAFF
from ..models import Submission, User
from ..operations import reviews
from .blueprint import bp
from .review import review_action
from .session import signed_in


@bp.post("/review/submissions/<int:submission_id>/comment")
@signed_in(*STAFF)
def set_comment(submission_id: int) -> Response:
    def act(session: Any, sub: Submission, user: User) -> None:
        reviews.comment(session, sub, user, request.form.get("comment", ""))

    return review_action(
        submission_id, act, "Comment saved: the learner reads it with the released grade."
    )
