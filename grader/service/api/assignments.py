"""Assignments: create from a rubric file, update, bulk release, regrade, gradebook CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import select

from ..auth import STAFF, current_user, require
from ..contracts import (
    STAFF_ONLY,
    AssignmentCreate,
    AssignmentUpdate,
    ReleaseRequest,
    Reply,
    operation,
    parse,
    parse_query,
)
from ..contracts import responses as out
from ..contracts.queries import RegradeQuery
from ..db import get_db
from ..downloads import stream_download
from ..errors import APIError
from ..models import Assignment, JobStatus
from ..operations import analytics, enrolments, exports, regrades, releases, rubrics
from ..operations.assignments import create_assignment, get_assignment
from ..tasks import enqueue_job
from .body import json_body

bp = Blueprint("assignments", __name__)


def assignment_json(a: Assignment) -> dict[str, Any]:
    rubric = rubrics.rubric_for(a.rubric)
    return {
        "slug": a.slug,
        "title": a.title,
        "rubric_file": a.rubric_file,
        "rubric": rubric.to_dict(),
        "rubric_version": a.rubric_version,
        "task": rubric.exercise.strip() or None,
        "opens_at": a.opens_at.isoformat() if a.opens_at else None,
        "due_at": a.due_at.isoformat() if a.due_at else None,
        "late_policy": a.late_policy,
        "counted_grade": a.counted_grade,
        "restricted": a.restricted,
        "blind_review": a.blind_review,
        "release_after": a.release_after.isoformat() if a.release_after else None,
        "created_at": a.created_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
    }


@bp.get("/assignments")
@operation(
    "listAssignments", "List assignments", "assignments", {200: out.AssignmentList}, errors=(401,)
)
@require()
def index() -> dict[str, Any]:
    session = get_db().session
    rows = session.scalars(select(Assignment).order_by(Assignment.slug)).all()
    visible = enrolments.visible_ids(session, current_user())
    return {"items": [assignment_json(a) for a in rows if visible is None or a.id in visible]}


@bp.get("/assignments/<slug>")
@operation(
    "getAssignment", "Show an assignment", "assignments", {200: out.Assignment}, errors=(401, 404)
)
@require()
def show(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    enrolments.ensure_may_take(session, a.id, a.restricted, current_user())
    return assignment_json(a)


@bp.post("/assignments")
@operation(
    "createAssignment",
    "Create an assignment from a rubric file",
    "assignments",
    {201: Reply(out.Assignment, "Created")},
    errors=(401, 403, 409, 413, 415, 422),
    body=AssignmentCreate,
    description=STAFF_ONLY,
)
@require(*STAFF)
def create() -> tuple[dict[str, Any], int]:
    """Create an assignment from a rubric file in the rubrics folder."""
    user = current_user()
    session = get_db().session
    body = parse(AssignmentCreate, json_body())
    a = create_assignment(
        session,
        user,
        slug=body.slug,
        rubric_file=body.rubric,
        rubrics_dir=current_app.config["RUBRICS_DIR"],
        title=body.title,
        opens_at=body.opens_at,
        due_at=body.due_at,
        late_policy=body.late_policy or "accept",
        counted_grade=body.counted_grade or "latest",
        restricted=bool(body.restricted),
        blind_review=bool(body.blind_review),
        release_after=body.release_after,
    )
    session.commit()
    return assignment_json(a), 201


@bp.patch("/assignments/<slug>")
@operation(
    "updateAssignment",
    "Change the title or the rubric file",
    "assignments",
    {200: out.Assignment},
    errors=(401, 403, 404, 413, 415, 422),
    body=AssignmentUpdate,
    description=STAFF_ONLY,
)
@require(*STAFF)
def update(slug: str) -> dict[str, Any]:
    """Change the title, or point the assignment at a (changed) rubric file. New submissions
    use the new rubric version at once; existing grades change only through regrade."""
    session = get_db().session
    a = get_assignment(session, slug)
    body = parse(AssignmentUpdate, json_body())
    if "title" in body.model_fields_set:
        a.title = body.title.strip()
    if "rubric" in body.model_fields_set:
        version = rubrics.store_rubric(
            session, rubrics.rubric_path(current_app.config["RUBRICS_DIR"], body.rubric)
        )
        a.rubric_file = body.rubric
        if version.version != a.rubric_version:
            a.calibration_version = None  # fitted for the old rubric's grades
        a.rubric_version = version.version
    for name in ("opens_at", "due_at", "release_after"):
        if name in body.model_fields_set:
            setattr(a, name, getattr(body, name))
    if "late_policy" in body.model_fields_set:
        a.late_policy = body.late_policy or "accept"
    if "counted_grade" in body.model_fields_set:
        a.counted_grade = body.counted_grade or "latest"
    if "restricted" in body.model_fields_set:
        a.restricted = bool(body.restricted)
    if "blind_review" in body.model_fields_set:
        a.blind_review = bool(body.blind_review)
    if a.opens_at and a.due_at and a.due_at <= a.opens_at:
        raise APIError(422, "invalid_time", "'due_at' must be after opens_at", field="due_at")
    session.commit()
    get_db().forget_window(a.slug)
    return assignment_json(a)


@bp.post("/assignments/<slug>/release")
@operation(
    "releaseMany",
    "Release many graded submissions",
    "review",
    {200: out.Released},
    errors=(401, 403, 404, 413, 415, 422),
    body=ReleaseRequest,
    body_required=False,
    description=STAFF_ONLY + " Default mode: reviewed.",
)
@require(*STAFF)
def release_many(slug: str) -> dict[str, Any]:
    """Release many graded submissions: ``{"mode": "reviewed"}`` (default), ``"all"``, or
    ``{"mode": "confidence", "min_confidence": 0.8}``; or explicit ``{"ids": [...]}``."""
    user = current_user()
    session = get_db().session
    a = get_assignment(session, slug)
    given = request.content_length or request.mimetype == "application/json"
    body = parse(ReleaseRequest, json_body() if given else {})
    mode = body.mode or ("ids" if "ids" in body.model_fields_set else "reviewed")
    threshold = body.min_confidence
    if threshold is None:
        threshold = float(current_app.config["AUTO_RELEASE_CONFIDENCE"])
    if mode == "ids" and body.ids is None:
        raise APIError(422, "invalid_ids", "'ids' must be a list of submission ids", field="ids")
    query = releases.selection(a.id, mode, min_confidence=threshold, ids=body.ids or ())
    subs = session.scalars(query).all()
    released, held = releases.release_many(session, subs, user)
    session.commit()
    return {"released": released, "count": len(released), "claimed": held}


@bp.post("/assignments/<slug>/regrade")
@operation(
    "regrade",
    "Regrade with the rubric file as it is now (a job the worker runs)",
    "review",
    {
        202: Reply(
            out.JobAccepted,
            "The job: poll its Location until it is done or failed",
            location=True,
        )
    },
    errors=(401, 403, 404, 422, 503),
    query=RegradeQuery,
    description=STAFF_ONLY
    + " A regrade switches the assignment to the file's version at once and the worker"
    " sends every current answer; a dry run grades them all again in the worker. Either"
    " way the request returns at once.",
)
@require(*STAFF)
def regrade(slug: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Regrade every current submission with the rubric file as it is now, keeping
    instructors' overrides; ``?dry_run=1`` only reports what would change. Either way the
    worker does the work: the answer is a job to poll at its Location."""
    session = get_db().session
    a = get_assignment(session, slug)
    dry_run = parse_query(RegradeQuery, request.args).dry
    kind = regrades.PREVIEW if dry_run else regrades.REGRADE
    job = regrades.start(
        session, a, current_user(), kind, current_app.config["RUBRICS_DIR"], enqueue_job
    )
    location = url_for("assignments.job", job_id=job.id)
    return {"job": regrades.job_json(job, a.slug)}, 202, {"Location": location}


@bp.get("/jobs/<int:job_id>")
@operation(
    "getJob",
    "A regrade job",
    "review",
    {200: out.Job},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def job(job_id: int) -> dict[str, Any]:
    """A regrade job: queued, running, done (with its result) or failed (with why)."""
    session = get_db().session
    found = regrades.load(session, job_id)
    a = session.get(Assignment, found.assignment_id)
    assert a is not None
    return regrades.job_json(found, a.slug, regrades.progress(session, found))


@bp.post("/jobs/<int:job_id>/cancel")
@operation(
    "cancelJob",
    "Cancel a dry run",
    "review",
    {200: out.Job},
    errors=(401, 403, 404, 409),
    description=STAFF_ONLY + " 409 `not_cancellable` for a regrade or a finished job.",
)
@require(*STAFF)
def cancel_job(job_id: int) -> dict[str, Any]:
    """Stop a dry run; it keeps no result (a regrade cannot be cancelled: 409)."""
    session = get_db().session
    found = regrades.load(session, job_id)
    regrades.cancel(session, found, current_user())
    session.commit()
    a = session.get(Assignment, found.assignment_id)
    assert a is not None
    return regrades.job_json(found, a.slug)


@bp.get("/jobs/<int:job_id>/changes.csv")
@operation(
    "jobChanges",
    "A dry run's diff as CSV",
    "review",
    {200: Reply(description="One row per answer that would change.", media="text/csv")},
    errors=(401, 403, 404, 409),
    description=STAFF_ONLY + " 409 `not_done` until the dry run is done.",
)
@require(*STAFF)
def job_changes(job_id: int) -> Response:
    session = get_db().session
    found = regrades.load(session, job_id)
    if found.kind != regrades.PREVIEW or found.status != JobStatus.DONE:
        raise APIError(409, "not_done", "only a finished dry run has a diff")
    lines = list(regrades.changes_csv(found))
    return Response(
        lines,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="regrade-{found.id}.csv"'},
    )


@bp.get("/assignments/<slug>/grades.csv")
@operation(
    "gradebook",
    "Gradebook as CSV",
    "review",
    {200: Reply(description="One row per learner's current submission.", media="text/csv")},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def gradebook(slug: str) -> Response:
    """One row per learner's current submission: each criterion's points, total, status."""
    session = get_db().session
    a = get_assignment(session, slug)
    return stream_download(exports.gradebook_csv, a.id, filename=exports.gradebook_filename(a))


@bp.get("/assignments/<slug>/grades.jsonl")
@operation(
    "gradebookLines",
    "Gradebook as JSON lines (for platforms)",
    "review",
    {
        200: Reply(
            description="One JSON object per line and per learner's current submission, "
            "with the counted released grade.",
            media="application/x-ndjson",
        )
    },
    errors=(401, 403, 404),
    description=STAFF_ONLY + " Streamed in constant memory, like the CSV.",
)
@require(*STAFF)
def gradebook_lines(slug: str) -> Response:
    session = get_db().session
    a = get_assignment(session, slug)
    return stream_download(
        exports.gradebook_jsonl,
        a.id,
        filename=f"{a.slug}-grades.jsonl",
        mimetype="application/x-ndjson",
    )


@bp.get("/assignments/<slug>/analytics")
@operation(
    "gradingAnalytics",
    "Grading analytics: grader vs final points, overrides by instructor, missed concepts, "
    "confidence held",
    "review",
    {200: out.Analytics},
    errors=(401, 403, 404),
    description=STAFF_ONLY + " One pass over the current answers' latest grades, in pages.",
)
@require(*STAFF)
def grading_analytics(slug: str) -> dict[str, Any]:
    session = get_db().session
    return analytics.analytics(session, get_assignment(session, slug))
