"""Submissions: submit, read (with the grade once the caller may see it), history, overrides,
release and retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..answers import AnswerError, clean_answer
from ..auth import STAFF, current_user, is_staff, load_submission, require
from ..contracts import (
    STAFF_ONLY,
    Body,
    CommentRequest,
    HandGradeRequest,
    Header,
    OverrideRequest,
    Reply,
    SubmissionRequest,
    UnreleaseRequest,
    operation,
    parse,
    parse_query,
)
from ..contracts import responses as out
from ..contracts.queries import SubmissionListQuery, SubmissionQuery
from ..db import get_db, single_statement_writes
from ..errors import APIError, not_found
from ..models import Assignment, Role, Status, Submission, User
from ..operations import comment_bank, copies, enrolments, grades, releases, reviews, submissions
from ..operations.assignments import Window, author_visible, shown_learner
from ..tasks import enqueue_grade
from .body import decode_text, json_body, json_object, read_body

bp = Blueprint("submissions", __name__)

_MAX_KEY = 200

# What a learner (or a platform) is told about a failed grading: never grader's internals.
LEARNER_FAILURE = (
    "grading could not finish; your instructor sees it and will have it graded again or "
    "grade it by hand"
)


def submission_json(sub: Submission, viewer: User) -> dict[str, Any]:
    """A submission as the viewer may see it: staff always see the grade; learners and
    platforms see it once released."""
    data: dict[str, Any] = {
        "id": sub.id,
        "assignment": sub.assignment.slug,
        "learner": shown_learner(sub, to_staff=is_staff(viewer)),
        "version": sub.version,
        "current": sub.current,
        "status": sub.status.value,
        "created_at": sub.created_at.isoformat(),
        "updated_at": sub.updated_at.isoformat(),
        "released_at": sub.released_at.isoformat() if sub.released_at else None,
        "grade": None,
    }
    if sub.late:
        data["late"] = True
    if sub.superseded_by_id and not (is_staff(viewer) and sub.assignment.blind_review):
        data["superseded_by"] = sub.superseded_by_id  # blind review: no link between versions
    if sub.status == Status.FAILED:
        # What went wrong inside grader (exception text) is for staff only.
        data["failure_reason"] = sub.failure_reason if is_staff(viewer) else LEARNER_FAILURE
    if sub.metadata_ is not None:
        data["metadata"] = sub.metadata_
    staff = is_staff(viewer)
    if staff or sub.status == Status.RELEASED:
        # Staff see the latest grade; the learner the one released to them.
        eff = (grades.effective_grade if staff else grades.released_grade)(get_db().session, sub)
        if eff is not None:
            data["grade"] = grades.grade_json(eff, sub, staff=staff)
    if staff and sub.release_pending:
        data |= {"release_pending": True, "released_total": sub.released_total}
    if staff and sub.copy_hints:
        data["possible_copy"] = copies.hints_for(get_db().session, sub, passages=True)
    if sub.comment and (staff or sub.status == Status.RELEASED):
        data["comment"] = sub.comment
    if staff:
        data["reviewed"] = sub.reviewed
        data["claimed_by"] = sub.claimed_by_id
        data["claim_expires_at"] = (
            sub.claim_expires_at.isoformat() if sub.claim_expires_at else None
        )
    return data


B = TypeVar("B", bound=Body)


def _act(
    submission_id: int, model: type[B], act: Callable[[Session, Submission, User, B], object]
) -> dict[str, Any]:
    """A staff action on one submission with a JSON body: the caller's submission (404
    otherwise), the body parsed by ``model``, ``act`` (an operation), commit, and the
    submission as the caller sees it now."""
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    body = parse(model, json_body())
    act(session, sub, user, body)
    session.commit()
    return submission_json(sub, user)


def _submission_content(limit: int) -> tuple[str, dict[str, Any] | None]:
    """The Markdown from a text/markdown body or a JSON {"content": ...} body."""
    mimetype = request.mimetype
    raw = read_body(limit)
    if mimetype in ("text/markdown", "text/plain", "text/x-markdown"):
        content, metadata = decode_text(raw), None
    elif mimetype == "application/json":
        body = parse(SubmissionRequest, json_object(raw))
        content, metadata = body.content, body.metadata
    else:
        raise APIError(
            415,
            "unsupported_media_type",
            'send the answer as text/markdown or as application/json {"content": ...}',
            field="Content-Type",
        )
    try:
        return clean_answer(content), metadata
    except AnswerError as exc:
        raise APIError(422, exc.code, exc.message, field="content") from None


_ANSWER_TEXT = {"type": "string", "minLength": 1, "pattern": "\\S"}


@bp.post("/assignments/<slug>/submissions")
@operation(
    "submitAnswer",
    "Submit an answer",
    "submissions",
    {202: Reply(out.SubmissionAccepted, "Accepted; graded in the background", location=True)},
    errors=(401, 403, 404, 409, 413, 415, 422, 503),
    body=SubmissionRequest,
    body_media={"text/markdown": _ANSWER_TEXT, "text/plain": _ANSWER_TEXT},
    headers=(
        Header(
            "Idempotency-Key",
            {"type": "string", "minLength": 1, "maxLength": _MAX_KEY, "pattern": "\\S"},
            "Repeat a request safely: same key, same answer.",
        ),
    ),
    description="Learner, instructor or admin. Platforms submit by webhook.",
)
@single_statement_writes
@require(Role.LEARNER, Role.INSTRUCTOR, Role.ADMIN)
def create(slug: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit an answer. 202 with the id; grading happens in the background."""
    user = current_user()
    db = get_db()
    session = db.session
    found = db.assignment_window(slug)
    if found is None:
        raise not_found("assignment")
    assignment_id, times = found
    if times[3]:  # restricted to its course
        enrolments.ensure_may_take(session, assignment_id, True, user)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key.strip()) <= _MAX_KEY):
        raise APIError(
            422,
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1 to {_MAX_KEY} characters",
            field="Idempotency-Key",
        )
    content, metadata = _submission_content(current_app.config["MAX_SUBMISSION_BYTES"])
    sub, created = submissions.submit_and_commit(
        session,
        assignment_id,
        user.id,
        content,
        idempotency_key=key.strip() if key else None,
        metadata=metadata,
        window=Window(*times),
    )
    if created:
        enqueue_grade(sub.id)
    body = {
        "id": sub.id,
        "status": sub.status.value,
        "version": sub.version,
        "assignment": slug,
        "url": f"/api/v1/submissions/{sub.id}",
    }
    return body, 202, {"Location": f"/api/v1/submissions/{sub.id}"}


@bp.get("/submissions")
@operation(
    "listSubmissions",
    "List submissions the caller may see",
    "submissions",
    {200: out.SubmissionList},
    errors=(401, 422),
    query=SubmissionListQuery,
)
@require()
def index() -> dict[str, Any]:
    """The caller's own submissions (staff: anyone's, filtered by assignment or learner)."""
    user = current_user()
    session = get_db().session
    query = select(Submission).join(Assignment).order_by(Submission.id.desc())
    args = parse_query(SubmissionListQuery, request.args)
    learner = args.learner
    if is_staff(user):
        if learner:  # blind review: never the answers whose author is hidden
            query = query.where(Submission.learner_id == learner, author_visible())
    elif user.role == Role.PLATFORM:
        query = query.where(Submission.platform_id == user.platform_id)
    else:
        query = query.where(Submission.learner_id == user.id)
    if args.assignment:
        query = query.where(Assignment.slug == args.assignment)
    rows = session.scalars(query.limit(min(args.limit, 500))).all()
    return {"items": [submission_json(s, user) for s in rows]}


@bp.get("/submissions/<int:submission_id>")
@operation(
    "getSubmission",
    "Show a submission (and its grade when the caller may see it)",
    "submissions",
    {200: out.Submission},
    errors=(401, 404, 422),
    query=SubmissionQuery,
    description="Learners see their own, platforms theirs, staff all; others get 404.",
)
@require()
def show(submission_id: int) -> dict[str, Any]:
    user = current_user()
    include = parse_query(SubmissionQuery, request.args).include
    sub = load_submission(get_db().session, submission_id, user)
    data = submission_json(sub, user)
    if is_staff(user) and include == "content":
        data["content"] = sub.content
    return data


@bp.get("/submissions/<int:submission_id>/history")
@operation(
    "history",
    "The audit trail",
    "review",
    {200: out.History},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def history(submission_id: int) -> dict[str, Any]:
    """The append-only audit trail: who, when, before, after, why."""
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    events = grades.history(session, sub.id)
    return {
        "submission": sub.id,
        "events": [grades.event_json(e, sub) for e in events],
    }


@bp.post("/submissions/<int:submission_id>/overrides")
@operation(
    "override",
    "Override one criterion's points, with a reason",
    "review",
    {201: Reply(out.Submission, "Created")},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=OverrideRequest,
    description=STAFF_ONLY,
)
@require(*STAFF)
def create_override(submission_id: int) -> tuple[dict[str, Any], int]:
    def act(session: Session, sub: Submission, user: User, body: OverrideRequest) -> None:
        keep, comment = body.save_comment, body.comment
        comment_bank.override_and_keep(
            session, sub, user, body.criterion, body.points, body.reason, comment, keep
        )

    return _act(submission_id, OverrideRequest, act), 201


@bp.post("/submissions/<int:submission_id>/release")
@operation(
    "release",
    "Release the grade to the learner",
    "review",
    {200: out.Submission},
    errors=(401, 403, 404, 409),
    description=STAFF_ONLY,
)
@require(*STAFF)
def release(submission_id: int) -> dict[str, Any]:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    releases.release(session, sub, user)
    session.commit()
    return submission_json(sub, user)


@bp.put("/submissions/<int:submission_id>/comment")
@operation(
    "setComment",
    "Set the instructor's general comment on the answer (the learner reads it on release)",
    "review",
    {200: out.Submission},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=CommentRequest,
    description=STAFF_ONLY + " Null or empty clears it; the history keeps each version.",
)
@require(*STAFF)
def set_comment(submission_id: int) -> dict[str, Any]:
    return _act(
        submission_id,
        CommentRequest,
        lambda session, sub, user, body: reviews.comment(session, sub, user, body.comment),
    )


@bp.post("/submissions/<int:submission_id>/unrelease")
@operation(
    "unrelease",
    "Withdraw a released grade, with a reason the learner is told",
    "review",
    {200: out.Submission},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=UnreleaseRequest,
    description=STAFF_ONLY + " Back to graded; the history records it and the learner is "
    "notified (a platform gets grade.unreleased).",
)
@require(*STAFF)
def unrelease(submission_id: int) -> dict[str, Any]:
    return _act(
        submission_id,
        UnreleaseRequest,
        lambda session, sub, user, body: releases.unrelease(session, sub, user, body.reason),
    )


@bp.post("/submissions/<int:submission_id>/grade-by-hand")
@operation(
    "gradeByHand",
    "Grade a failed submission by hand (every criterion)",
    "review",
    {200: out.Submission},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=HandGradeRequest,
    description=STAFF_ONLY + " The points are kept as overrides, so a later regrade keeps them.",
)
@require(*STAFF)
def grade_by_hand(submission_id: int) -> dict[str, Any]:
    def act(session: Session, sub: Submission, user: User, body: HandGradeRequest) -> None:
        reviews.grade_by_hand(session, sub, user, body.points, body.reason, body.comment)

    return _act(submission_id, HandGradeRequest, act)


@bp.post("/submissions/<int:submission_id>/retry")
@operation(
    "retry",
    "Re-queue a failed submission",
    "review",
    {202: Reply(out.Submission, "Queued")},
    errors=(401, 403, 404, 409),
    description=STAFF_ONLY,
)
@require(*STAFF)
def retry(submission_id: int) -> tuple[dict[str, Any], int]:
    """Re-queue a failed submission."""
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    reviews.retry(session, sub, user)
    session.commit()
    enqueue_grade(sub.id)
    return submission_json(sub, user), 202
