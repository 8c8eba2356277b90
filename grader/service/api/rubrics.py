"""An assignment's rubric as TOML: read it, and change it as a new version (staff only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request, url_for

from ..auth import STAFF, current_user, require
from ..contracts import STAFF_ONLY, Reply, RubricSource, operation, parse, parse_query
from ..contracts import responses as out
from ..contracts.queries import RegradeQuery
from ..db import get_db
from ..operations import regrades, rubrics
from ..operations.assignments import get_assignment
from ..tasks import enqueue_job
from .body import json_body

bp = Blueprint("rubrics", __name__)


@bp.get("/assignments/<slug>/rubric")
@operation(
    "getRubric",
    "The assignment's rubric as TOML (with the answer key)",
    "assignments",
    {200: out.RubricText},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def show(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    return {
        "version": a.rubric_version,
        "rubric_file": a.rubric_file,
        "from_file": rubrics.file_version(current_app.config["RUBRICS_DIR"], a) == a.rubric_version,
        "source": a.rubric.source,
    }


@bp.put("/assignments/<slug>/rubric")
@operation(
    "editRubric",
    "A new rubric version from TOML: a dry run of the regrade, or the regrade",
    "assignments",
    {
        202: Reply(
            out.JobAccepted,
            "The job: poll its Location until it is done or failed",
            location=True,
        )
    },
    errors=(400, 401, 403, 404, 413, 415, 422, 503),
    body=RubricSource,
    query=RegradeQuery,
    description=STAFF_ONLY
    + " The TOML is validated first (422 naming the line, or every rule it breaks). With"
    " `?dry_run=1` the worker grades every current answer with it and the job's result is"
    " the diff, nothing stored but the version; without, the assignment switches to it at"
    " once and the worker regrades (overrides kept; released grades wait for release).",
)
@require(*STAFF)
def edit(slug: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_db().session
    a = get_assignment(session, slug)
    dry_run = parse_query(RegradeQuery, request.args).dry
    # The TOML may be as large as the pages take it (MAX_SOURCE), plus JSON's escapes.
    body = parse(RubricSource, json_body(limit=2 * rubrics.MAX_SOURCE))
    version = rubrics.store_source(session, body.source).version
    kind = regrades.PREVIEW if dry_run else regrades.REGRADE
    job = regrades.start(
        session,
        a,
        current_user(),
        kind,
        current_app.config["RUBRICS_DIR"],
        enqueue_job,
        version=version,
    )
    location = url_for("assignments.job", job_id=job.id)
    return {"job": regrades.job_json(job, a.slug)}, 202, {"Location": location}
