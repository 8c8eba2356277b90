"""Assignments: create from a rubric file, update, bulk release, regrade, gradebook CSV."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import select

from .. import grading, jobs
from ..auth import STAFF, current_user, require
from ..db import get_db
from ..errors import APIError, not_found
from ..models import MAX_ID, Assignment, Status, Submission
from ..tasks import enqueue_job
from .body import json_body

bp = Blueprint("assignments", __name__)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_TITLE_RULE = "'title' must be a non-empty string of at most 200 characters"


def assignment_json(a: Assignment) -> dict[str, Any]:
    rubric = grading.rubric_for(a.rubric)
    return {
        "slug": a.slug,
        "title": a.title,
        "rubric_file": a.rubric_file,
        "rubric": rubric.to_dict(),
        "rubric_version": a.rubric_version,
        "created_at": a.created_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
    }


def get_assignment(slug: str) -> Assignment:
    a = get_db().session.scalar(select(Assignment).where(Assignment.slug == slug))
    if a is None:
        raise not_found("assignment")
    return a


@bp.get("/assignments")
@require()
def index() -> dict[str, Any]:
    rows = get_db().session.scalars(select(Assignment).order_by(Assignment.slug)).all()
    return {"items": [assignment_json(a) for a in rows]}


@bp.get("/assignments/<slug>")
@require()
def show(slug: str) -> dict[str, Any]:
    return assignment_json(get_assignment(slug))


@bp.post("/assignments")
@require(*STAFF)
def create() -> tuple[dict[str, Any], int]:
    """Create an assignment from a rubric file in the rubrics folder."""
    user = current_user()
    session = get_db().session
    data = json_body()
    slug = data.get("slug")
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise APIError(
            422,
            "invalid_slug",
            "'slug' must be lower-case letters, digits and dashes (at most 64)",
            field="slug",
        )
    rubric_file = data.get("rubric")
    if not isinstance(rubric_file, str):
        raise APIError(
            422, "invalid_rubric", "'rubric' (a rubric file name) is required", field="rubric"
        )
    title = data.get("title")
    if title is not None and (not isinstance(title, str) or not 0 < len(title.strip()) <= 200):
        raise APIError(422, "invalid_title", _TITLE_RULE, field="title")
    if session.scalar(select(Assignment.id).where(Assignment.slug == slug)) is not None:
        raise APIError(409, "exists", f"an assignment {slug!r} already exists", field="slug")
    version = grading.store_rubric(
        session, grading.rubric_path(current_app.config["RUBRICS_DIR"], rubric_file)
    )
    rubric = grading.rubric_for(version)
    a = Assignment(
        slug=slug,
        title=(title or rubric.title).strip(),
        rubric_file=rubric_file,
        rubric_version=version.version,
        created_by_id=user.id,
    )
    session.add(a)
    session.commit()
    return assignment_json(a), 201


@bp.patch("/assignments/<slug>")
@require(*STAFF)
def update(slug: str) -> dict[str, Any]:
    """Change the title, or point the assignment at a (changed) rubric file. New submissions
    use the new rubric version at once; existing grades change only through regrade."""
    session = get_db().session
    a = get_assignment(slug)
    data = json_body()
    unknown = set(data) - {"title", "rubric"}
    if unknown:
        raise APIError(
            422, "unknown_field", f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0]
        )
    if "title" in data:
        if not isinstance(data["title"], str) or not 0 < len(data["title"].strip()) <= 200:
            raise APIError(422, "invalid_title", _TITLE_RULE, field="title")
        a.title = data["title"].strip()
    if "rubric" in data:
        if not isinstance(data["rubric"], str):
            raise APIError(422, "invalid_rubric", "'rubric' must be a file name", field="rubric")
        version = grading.store_rubric(
            session, grading.rubric_path(current_app.config["RUBRICS_DIR"], data["rubric"])
        )
        a.rubric_file = data["rubric"]
        a.rubric_version = version.version
    session.commit()
    return assignment_json(a)


@bp.post("/assignments/<slug>/release")
@require(*STAFF)
def release_many(slug: str) -> dict[str, Any]:
    """Release many graded submissions: ``{"mode": "reviewed"}`` (default), ``"all"``, or
    ``{"mode": "confidence", "min_confidence": 0.8}``; or explicit ``{"ids": [...]}``."""
    user = current_user()
    session = get_db().session
    a = get_assignment(slug)
    data = json_body() if request.content_length or request.mimetype == "application/json" else {}
    mode = data.get("mode", "ids" if "ids" in data else "reviewed")
    query = select(Submission).where(
        Submission.assignment_id == a.id,
        Submission.current.is_(True),
        Submission.status == Status.GRADED,
    )
    if mode == "reviewed":
        query = query.where(Submission.reviewed.is_(True))
    elif mode == "confidence":
        threshold = data.get("min_confidence", current_app.config["AUTO_RELEASE_CONFIDENCE"])
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not (0 <= threshold <= 1)
        ):
            raise APIError(
                422,
                "invalid_min_confidence",
                "'min_confidence' must be a number from 0 to 1",
                field="min_confidence",
            )
        # A grade with a review reason is never released unseen, whatever the threshold.
        query = query.where(
            Submission.confidence >= float(threshold), Submission.review_codes == ","
        )
    elif mode == "ids":
        ids = data.get("ids")
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            raise APIError(
                422, "invalid_ids", "'ids' must be a list of submission ids", field="ids"
            )
        # Ids are 32-bit: larger ones cannot exist (and the database would refuse to bind them).
        query = query.where(Submission.id.in_([i for i in ids if 0 < i <= MAX_ID]))
    elif mode != "all":
        raise APIError(
            422, "invalid_mode", "'mode' must be reviewed, confidence, ids or all", field="mode"
        )
    subs = session.scalars(query.order_by(Submission.id)).all()
    released, held = grading.release_many(session, subs, user)
    session.commit()
    return {"released": released, "count": len(released), "claimed": held}


@bp.post("/assignments/<slug>/regrade")
@require(*STAFF)
def regrade(slug: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Regrade every current submission with the rubric file as it is now, keeping
    instructors' overrides; ``?dry_run=1`` only reports what would change. Either way the
    worker does the work: the answer is a job to poll at its Location."""
    session = get_db().session
    a = get_assignment(slug)
    dry_run = request.args.get("dry_run") in ("1", "true", "yes")
    kind = jobs.PREVIEW if dry_run else jobs.REGRADE
    job = jobs.start(
        session, a, current_user(), kind, current_app.config["RUBRICS_DIR"], enqueue_job
    )
    location = url_for("assignments.job", job_id=job.id)
    return {"job": jobs.job_json(job, a.slug)}, 202, {"Location": location}


@bp.get("/jobs/<int:job_id>")
@require(*STAFF)
def job(job_id: int) -> dict[str, Any]:
    """A regrade job: queued, running, done (with its result) or failed (with why)."""
    session = get_db().session
    found = jobs.load(session, job_id)
    a = session.get(Assignment, found.assignment_id)
    assert a is not None
    return jobs.job_json(found, a.slug)


_CSV_UNSAFE = ("=", "+", "-", "@", "\t", "\r")


# Characters a spreadsheet skips before it looks for a formula sign.
_CSV_IGNORED = " \u00a0\u200b\u200c\u200d\u2060\ufeff"


def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV injection), also when the formula
    sign is full-width (\uff1d) or follows spaces or invisible characters."""
    if isinstance(value, str) and value:
        head = unicodedata.normalize("NFKC", value.lstrip(_CSV_IGNORED)[:1])
        if head.startswith(_CSV_UNSAFE) or value.startswith(_CSV_UNSAFE):
            return "'" + value
    return value


@bp.get("/assignments/<slug>/grades.csv")
@require(*STAFF)
def gradebook(slug: str) -> Response:
    """One row per learner's current submission: each criterion's points, total, status."""
    session = get_db().session
    a = get_assignment(slug)
    rubric = grading.rubric_for(a.rubric)
    ids = [c.id for c in rubric.criteria]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "learner_id",
            "learner",
            "submission",
            "version",
            *ids,
            "total",
            "max_total",
            "status",
            "source",
            "confidence",
            "released_at",
        ]
    )
    subs = session.scalars(
        select(Submission)
        .where(Submission.assignment_id == a.id, Submission.current.is_(True))
        .order_by(Submission.learner_id)
    ).all()
    for sub in subs:
        eff = grading.effective_grade(session, sub)
        points = {c["id"]: c["points"] for c in eff["criteria"]} if eff else {}
        source = (
            (
                "override"
                if eff and any(c["source"] == "override" for c in eff["criteria"])
                else "grader"
            )
            if eff
            else ""
        )
        writer.writerow(
            [
                sub.learner_id,
                _cell(sub.learner.name),
                sub.id,
                sub.version,
                *[points.get(i, "") for i in ids],
                eff["total"] if eff else "",
                eff["max_total"] if eff else "",
                sub.status.value,
                source,
                eff["confidence"] if eff else "",
                sub.released_at.isoformat() if sub.released_at else "",
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{a.slug}-grades.csv"'},
    )
