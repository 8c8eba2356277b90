"""The pages an instructor sees inside the LMS: at a link's first launch, the choice of
the assignment it opens (an existing one, or a new one from a rubric file); afterwards, a
page that opens the assignment's dashboard and review queue in a new tab (grader's staff
pages refuse to be framed). Only the session that launched the link may use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from sqlalchemy import select

from ..auth import STAFF
from ..db import get_db
from ..errors import APIError
from ..lti import handoff
from ..lti.links import attach, get_link
from ..models import Assignment
from ..operations.assignments import create_assignment, get_assignment
from .blueprint import bp, error_page, notify
from .session import current_user, sign_in, signed_in


def _launched(link_id: int) -> None:
    """These pages belong to the launch: a staff member who did not launch this link from
    the LMS in this session may not set it up (another course's link, by id)."""
    launched = session.get("lti_links")
    if not isinstance(launched, list) or link_id not in launched:
        raise APIError(
            403, "not_launched", "open this page by launching the activity from your LMS"
        )


def _render(link_id: int, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    _launched(link_id)
    db = get_db().session
    link = get_link(db, link_id)
    if link.assignment_id is not None:
        return _open(link.id, link.assignment_id)
    assignments = list(db.scalars(select(Assignment).order_by(Assignment.title).limit(500)))
    rubric_files = sorted(p.name for p in Path(current_app.config["RUBRICS_DIR"]).glob("*.toml"))
    html = render_template(
        "web/lti_setup.html",
        link=link,
        assignments=assignments,
        rubric_files=rubric_files,
        error=error,
        form=request.form,
    )
    return html, status


@bp.get("/lti/links/<int:link_id>/setup")
@signed_in(*STAFF)
def lti_setup(link_id: int) -> tuple[str, int]:
    return _render(link_id)


@bp.post("/lti/links/<int:link_id>/setup")
@signed_in(*STAFF)
def lti_attach(link_id: int) -> Any:
    _launched(link_id)
    db = get_db().session
    link = get_link(db, link_id)
    try:
        if request.form.get("choice") == "new":
            a = create_assignment(
                db,
                current_user(),
                slug=request.form.get("slug", "").strip(),
                rubric_file=request.form.get("rubric", ""),
                rubrics_dir=current_app.config["RUBRICS_DIR"],
                title=request.form.get("title", "").strip() or None,
            )
        else:
            a = get_assignment(db, request.form.get("assignment", ""))
        attach(db, link, a)
        db.commit()
    except APIError as exc:
        db.rollback()
        return _render(link_id, error=exc.sentence, status=exc.status)
    notify(f"This activity now opens {a.title}.")
    return redirect(url_for("web.lti_open", link_id=link.id), code=303)


def _open(link_id: int, assignment_id: int) -> tuple[str, int]:
    db = get_db().session
    a = db.get(Assignment, assignment_id)
    link = get_link(db, link_id)
    assert a is not None
    secret = str(current_app.config["SECRET_KEY"])
    links = {t: handoff.make(secret, current_user(), link, t) for t in handoff.TARGETS}
    return render_template("web/lti_open.html", assignment=a, handoffs=links), 200


@bp.get("/lti/handoff")
def lti_handoff() -> Any:
    """A signed hand-off link from the LMS's iframe: sign in here, at the top level, and
    open the dashboard or the review queue."""
    db = get_db().session
    try:
        done = handoff.redeem(db, str(current_app.config["SECRET_KEY"]), request.args.get("t", ""))
    except APIError as exc:
        return error_page(exc.status, "Open the activity again", exc.sentence)
    a = db.get(Assignment, done.link.assignment_id) if done.link.assignment_id else None
    sign_in(done.user)
    if a is None:
        return redirect(url_for("web.home"), code=303)
    if done.target == "review":
        return redirect(url_for("web.review_queue", assignment=a.slug), code=303)
    return redirect(url_for("web.dashboard", slug=a.slug), code=303)


@bp.get("/lti/links/<int:link_id>/open")
@signed_in(*STAFF)
def lti_open(link_id: int) -> tuple[str, int]:
    _launched(link_id)
    link = get_link(get_db().session, link_id)
    if link.assignment_id is None:
        return redirect(url_for("web.lti_setup", link_id=link.id), code=303)  # type: ignore[return-value]
    return _open(link.id, link.assignment_id)
