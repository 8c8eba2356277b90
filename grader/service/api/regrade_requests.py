"""Regrade requests: learners ask about a released grade's criterion, instructors answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app

from ..auth import STAFF, current_user, is_staff, load_submission, require
from ..contracts import STAFF_ONLY, RegradeAnswer, RegradeRequestCreate, Reply, operation, parse
from ..contracts import responses as out
from ..db import get_db
from ..errors import not_found
from ..models import Role
from ..operations import regrade_requests
from .body import json_body

bp = Blueprint("regrade_requests", __name__)


@bp.post("/submissions/<int:submission_id>/regrade-requests")
@operation(
    "askRegrade",
    "Ask for a regrade of one criterion (the learner, after release)",
    "regrade requests",
    {201: Reply(out.RegradeRequest, "Created")},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=RegradeRequestCreate,
    description="The submission's learner, once its grade is released and within "
    "REGRADE_REQUEST_DAYS of the release; once per criterion and version.",
)
@require(Role.LEARNER)
def ask(submission_id: int) -> tuple[dict[str, Any], int]:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    body = parse(RegradeRequestCreate, json_body())
    req = regrade_requests.ask(
        session,
        sub,
        user,
        body.criterion,
        body.message,
        window_days=current_app.config["REGRADE_REQUEST_DAYS"],
    )
    session.commit()
    return regrade_requests.request_json(req), 201


@bp.get("/submissions/<int:submission_id>/regrade-requests")
@operation(
    "listRegradeRequests",
    "A submission's regrade requests and their answers",
    "regrade requests",
    {200: out.RegradeRequestList},
    errors=(401, 403, 404),
    description="Staff, or the submission's learner.",
)
@require(Role.LEARNER, *STAFF)
def index(submission_id: int) -> dict[str, Any]:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    closes = (
        sub.released_at + timedelta(days=current_app.config["REGRADE_REQUEST_DAYS"])
        if sub.released_at
        else None
    )
    return {
        "items": [
            regrade_requests.request_json(r) for r in regrade_requests.requests_for(session, sub.id)
        ],
        "window_closes_at": closes.isoformat() if closes else None,
    }


@bp.post("/regrade-requests/<int:request_id>/answer")
@operation(
    "answerRegrade",
    "Answer a regrade request: keep the points or change them, with a reply",
    "regrade requests",
    {200: out.RegradeRequest},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=RegradeAnswer,
    description=STAFF_ONLY + " A change is an override whose comment is the reply.",
)
@require(*STAFF)
def answer(request_id: int) -> dict[str, Any]:
    user = current_user()
    session = get_db().session
    req = regrade_requests.get_request(session, request_id)
    if req is None or not is_staff(user):
        raise not_found("regrade request")
    body = parse(RegradeAnswer, json_body())
    regrade_requests.answer(session, req, user, body.outcome, body.reply, body.points)
    session.commit()
    return regrade_requests.request_json(req)
