"""Withdrawing a released grade from the review page (releases.unrelease)."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from ..auth import STAFF
from ..models import Submission, User
from ..operations import releases
from .blueprint import bp
from .review import review_action
from .session import signed_in


@bp.post("/review/submissions/<int:submission_id>/unrelease")
@signed_in(*STAFF)
def unrelease(submission_id: int) -> Response:
    def act(session: Any, sub: Submission, user: User) -> None:
        releases.unrelease(session, sub, user, request.form.get("reason", ""))

    return review_action(
        submission_id, act, "Withdrawn: the learner no longer sees the grade and is told why."
    )
