"""Editing an assignment's rubric in the pages: the TOML in a form, validation errors shown
in place, then the regrade's dry run (the dashboard's diff) and applying it as a new
version (operations.rubrics.store_source, operations.regrades)."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import tasks
from ..auth import STAFF
from ..db import get_db
from ..errors import APIError
from ..operations import regrades, rubrics
from ..operations.assignments import get_assignment
from .blueprint import bp
from .session import current_user, signed_in


def _page(slug: str, source: str, errors: list[str], status: int) -> tuple[str, int]:
    session = get_db().session
    a = get_assignment(session, slug)
    from_file = rubrics.file_version(current_app.config["RUBRICS_DIR"], a) == a.rubric_version
    html = render_template(
        "web/rubric_edit.html",
        assignment=a,
        source=source,
        errors=errors,
        from_file=from_file,
        max_bytes=rubrics.MAX_SOURCE,
    )
    return html, status


@bp.get("/dashboard/<slug>/rubric")
@signed_in(*STAFF)
def edit_rubric(slug: str) -> tuple[str, int]:
    a = get_assignment(get_db().session, slug)
    return _page(slug, a.rubric.source, [], 200)


@bp.post("/dashboard/<slug>/rubric")
@signed_in(*STAFF)
def preview_rubric(slug: str) -> Response | tuple[str, int]:
    """Validate the TOML and start the regrade's dry run with it; the dashboard shows the
    diff and applies it (for the version it showed)."""
    session = get_db().session
    a = get_assignment(session, slug)
    source = request.form.get("source", "").replace("\r\n", "\n")
    try:
        version = rubrics.store_source(session, source).version
        job = regrades.start(
            session,
            a,
            current_user(),
            regrades.PREVIEW,
            current_app.config["RUBRICS_DIR"],
            tasks.enqueue_job,
            version=version,
        )
    except APIError as exc:
        session.rollback()
        return _page(slug, source, exc.message.splitlines(), 422)
    return redirect(url_for("web.dashboard", slug=a.slug, preview=job.id), code=303)
