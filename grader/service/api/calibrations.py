"""An assignment's calibration from instructors' reviewed grades: see it, fit it as a dry
run, apply it (a regrade job)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request, url_for

from ..auth import STAFF, current_user, require
from ..contracts import STAFF_ONLY, Reply, operation, parse_query
from ..contracts import responses as out
from ..contracts.queries import CalibrationQuery
from ..db import get_db
from ..operations import calibrations, regrades, risk
from ..operations.assignments import get_assignment
from ..tasks import enqueue_job

bp = Blueprint("calibrations", __name__)


@bp.get("/assignments/<slug>/calibration")
@operation(
    "getCalibration",
    "The calibration new grades use, and how many reviewed grades there are",
    "review",
    {200: out.CalibrationState},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def show(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    return {
        "current": calibrations.current(session, a),
        "labels": len(calibrations.labels(session, a)),
        "release_risk": risk.release_risk(session, a),
    }


@bp.post("/assignments/<slug>/calibration")
@operation(
    "calibrate",
    "Fit a calibration on the reviewed grades (dry_run=1: only report), or apply it",
    "review",
    {
        200: Reply(out.CalibrationPreview, "The dry run: figures and what would change"),
        202: Reply(
            out.CalibrationApplied, "Stored; the regrade job runs in the worker", location=True
        ),
    },
    errors=(401, 403, 404, 409, 422, 503),
    query=CalibrationQuery,
    description=STAFF_ONLY
    + " Out-of-fold figures per criterion; a map is kept only where it beats the grader out"
    " of fold, and the calibration is refused (409 calibration_refused) when none does (409"
    " no_labels before any review)."
    " Applying regrades the current answers (overrides kept); a released answer's new grade"
    " waits for release: its learner keeps the released grade until an instructor releases"
    " the new one.",
)
@require(*STAFF)
def fit(slug: str) -> Any:
    args = parse_query(CalibrationQuery, request.args)
    session = get_db().session
    a = get_assignment(session, slug)
    if args.dry:
        return calibrations.preview(session, a, args.level), 200
    described, job = calibrations.apply(
        session, a, current_user(), args.level, current_app.config["RUBRICS_DIR"], enqueue_job
    )
    location = url_for("assignments.job", job_id=job.id)
    body = {"calibration": described, "job": regrades.job_json(job, a.slug)}
    return body, 202, {"Location": location}
