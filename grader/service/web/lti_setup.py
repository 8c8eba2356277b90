"""The page an instructor sees at an LTI link's first launch: pick the assignment the link
opens, or create one from a rubric file. Later launches go straight to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from ..auth import STAFF
from ..db import get_db
from ..errors import APIError
from ..lti.links import attach, get_link
from ..models import Assignment
from ..operations.assignments import create_assignment, get_assignment
from .blueprint import bp, notify
from .session import current_user, signed_in


def _render(link_id: int, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    session = get_db().session
    link = get_link(session, link_id)
    assignments = list(session.scalars(select(Assignment).order_by(Assignment.title).limit(500)))
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
    session = get_db().session
    link = get_link(session, link_id)
    try:
        if request.form.get("choice") == "new":
            a = create_assignment(
                session,
                current_user(),
                slug=request.form.get("slug", "").strip(),
                rubric_file=request.form.get("rubric", ""),
                rubrics_dir=current_app.config["RUBRICS_DIR"],
                title=request.form.get("title", "").strip() or None,
            )
        else:
            a = get_assignment(session, request.form.get("assignment", ""))
        attach(session, link, a)
        session.commit()
    except APIError as exc:
        session.rollback()
        return _render(link_id, error=exc.sentence, status=exc.status)
    notify(f"This activity now opens {a.title}.")
    return redirect(url_for("web.dashboard", slug=a.slug), code=303)
