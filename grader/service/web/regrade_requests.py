"""Regrade requests on the pages: a learner asks from the grade's page, an instructor answers
from the review page; both post to grader.service.operations.regrade_requests."""

from __future__ import annotations

import math
from typing import Any

from flask import current_app, redirect, request, url_for
from werkzeug.wrappers import Response

from ..auth import STAFF, load_submission
from ..db import get_db
from ..errors import APIError, not_found
from ..models import Role
from ..operations import regrade_requests
from .blueprint import bp, notify
from .review import render_review
from .session import current_user, signed_in


@bp.post("/submissions/<int:submission_id>/regrade-requests")
@signed_in(Role.LEARNER)
def ask_regrade(submission_id: int) -> Response:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    criterion = request.form.get("criterion", "")
    try:
        regrade_requests.ask(
            session,
            sub,
            user,
            criterion,
            request.form.get("message", ""),
            window_days=current_app.config["REGRADE_REQUEST_DAYS"],
        )
        session.commit()
        notify("Sent: your instructor will look at it again and answer here.")
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
    anchor = f"criterion-{criterion}" if criterion.isidentifier() else "grade-h"
    return redirect(url_for("web.submission", submission_id=sub.id, _anchor=anchor), code=303)


@bp.post("/review/regrade-requests/<int:request_id>/answer")
@signed_in(*STAFF)
def answer_regrade(request_id: int) -> Any:
    """Keep or change the points, with the reply; errors are shown in the request's form."""
    user = current_user()
    session = get_db().session
    req = regrade_requests.get_request(session, request_id)
    if req is None:
        raise not_found("regrade request")
    sub = load_submission(session, req.submission_id, user)
    outcome = request.form.get("outcome", "")
    reply = request.form.get("reply", "")
    raw = request.form.get("points", "").strip().replace(",", ".")
    values = {"outcome": outcome, "reply": reply, "points": raw}

    def fail(message: str, status: int = 422, field: str | None = "points") -> tuple[str, int]:
        session.rollback()
        # The field at fault is marked and focused ("reply", "points" or the outcome).
        values["error_field"] = field or "outcome"
        return render_review(
            sub, request_errors={req.id: message}, request_values={req.id: values}, status=status
        )

    points: float | None = None
    if outcome == "changed":
        try:
            points = float(raw)
        except ValueError:
            return fail("New points must be a number, e.g. 12 or 12.5.")
        if not math.isfinite(points):
            return fail("New points must be a number, e.g. 12 or 12.5.")
    try:
        regrade_requests.answer(session, req, user, outcome, reply, points)
    except APIError as exc:
        return fail(exc.sentence, exc.status, exc.field)
    session.commit()
    notify("Answered: the learner is told.")
    return redirect(url_for("web.review_submission", submission_id=sub.id), code=303)
