"""Signing in and out, and the home page that sends each role where its work is."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ..auth import STAFF
from ..db import get_db
from ..models import Assignment, Role, Status, Submission
from ..operations import enrolments, grades
from . import throttle
from .blueprint import bp
from .session import authenticate, load_user, safe_next, sign_in, sign_out, signed_in

_MAX_EMAIL = 320
_MAX_PASSWORD = 1024


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Email and password. Failures say the same thing whether or not the email exists."""
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        if load_user() is not None:
            return redirect(nxt or url_for("web.home"))
        return render_template("web/login.html", next=nxt, email="")
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    if not email or not password:
        return _login_error("Enter your email address and your password.", email, nxt, 400)
    if len(email) > _MAX_EMAIL or len(password) > _MAX_PASSWORD:
        return _login_error("The email address or the password is too long.", email, nxt, 400)
    db = get_db().session
    client = request.remote_addr or "unknown"
    wait = throttle.retry_after(db, email, client, current_app.config)
    if wait is not None:
        page, status = _login_error(
            "Too many failed sign-ins. Wait a few minutes and try again.", email, nxt, 429
        )
        return page, status, {"Retry-After": str(wait)}
    user = authenticate(email, password)
    if user is None:
        throttle.record_failure(db, email, client, current_app.config)
        return _login_error("The email address or the password is not right.", email, nxt, 401)
    throttle.clear_account(db, email)
    sign_in(user)
    return redirect(nxt or url_for("web.home"), code=303)


def _login_error(message: str, email: str, nxt: str | None, status: int) -> tuple[str, int]:
    return (
        render_template("web/login.html", error=message, email=email[:_MAX_EMAIL], next=nxt),
        status,
    )


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    """POST signs out (a link elsewhere must not be able to); GET asks to confirm."""
    if request.method == "GET":
        if load_user() is None:
            return redirect(url_for("web.login"))
        return render_template("web/logout.html")
    sign_out()
    return redirect(url_for("web.login"), code=303)


@bp.get("/")
@signed_in()
def home() -> Response | str:
    user = load_user()
    assert user is not None
    session = get_db().session
    visible = enrolments.visible_ids(session, user)
    assignments = [
        a
        for a in session.scalars(select(Assignment).order_by(Assignment.title))
        if visible is None or a.id in visible
    ]
    if user.role in STAFF:
        counts: dict[int, dict[str, int]] = {}
        rows = session.execute(
            select(Submission.assignment_id, Submission.status, func.count())
            .where(Submission.current)
            .group_by(Submission.assignment_id, Submission.status)
        ).all()
        for assignment_id, status, n in rows:
            counts.setdefault(assignment_id, {})[Status(status).value] = n
        return render_template("web/home_staff.html", assignments=assignments, counts=counts)
    mine = {
        s.assignment_id: s
        for s in session.scalars(
            select(Submission).where(Submission.learner_id == user.id, Submission.current)
        )
    }
    rows_out = []
    for a in assignments:
        sub = mine.get(a.id)
        total = None
        if sub is not None and sub.status == Status.RELEASED:
            eff = grades.released_grade(session, sub)
            total = (eff["total"], eff["max_total"]) if eff else None
        rows_out.append({"assignment": a, "submission": sub, "total": total})
    return render_template("web/home_learner.html", rows=rows_out, Role=Role)
