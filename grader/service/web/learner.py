"""Learners' pages: an assignment (submit, earlier versions), a submission (live status,
then the released grade) and the small JSON route the page polls."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from .. import tasks
from ..answers import AnswerError, clean_answer, shown_answer
from ..auth import is_staff, load_submission
from ..db import get_db
from ..errors import APIError
from ..models import Assignment, Role, Status, Submission, User, utcnow
from ..operations import enrolments, grades, regrade_requests, rubrics, submissions
from ..operations.assignments import Window, admit, get_assignment
from ..operations.grades import grade_json
from ..render import evidence_quotes, rendered_task
from .blueprint import LEARNER_STATUS, TOO_LARGE_PAGES, bp, error_page
from .session import current_user, load_user, signed_in

UPLOAD_SUFFIXES = (".md", ".markdown", ".txt")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SUBMITTERS = (Role.LEARNER, Role.INSTRUCTOR, Role.ADMIN)


class FormError(Exception):
    """Bad input on the submit form: shown above the form, nothing stored."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def _kb(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def read_answer(pasted: str, upload: FileStorage | None, limit: int) -> str:
    """The answer from the text box or the uploaded file, checked like the API checks it:
    at most ``limit`` bytes, UTF-8, not empty, no NUL characters."""
    has_file = upload is not None and bool(upload.filename)
    if has_file and pasted.strip():
        raise FormError("Paste the answer or upload a file, not both.")
    if has_file:
        assert upload is not None
        name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise FormError(f"“{name}” is not a Markdown file: upload a .md file.")
        raw = upload.stream.read(limit + 1)
        if len(raw) > limit:
            raise FormError(f"The file is larger than the limit of {_kb(limit)}.", 413)
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError(
                f"“{name}” is not UTF-8 text (the first bad byte is at position {exc.start}). "
                "Save it as UTF-8 and upload it again.",
                422,
            ) from exc
    else:
        content = pasted
        size = len(content.encode("utf-8"))
        if size > limit:
            raise FormError(
                f"The answer is {_kb(size)}; the limit is {_kb(limit)}. Shorten it and try again.",
                413,
            )
    try:
        # Browsers send a text box's line breaks as CRLF; the answer is the text as typed.
        content = clean_answer(content)
    except AnswerError as exc:
        if exc.code == "empty_content":
            raise FormError(
                "The answer is empty: paste your answer or choose a file.", 422
            ) from None
        raise FormError("The answer contains NUL characters; it must be plain text.", 422) from None
    return content


def _my_submissions(user: User, assignment: Assignment) -> list[Submission]:
    return grades.versions(get_db().session, assignment.id, user.id)


def _released_totals(subs: list[Submission]) -> dict[int, tuple[float, float]]:
    session = get_db().session
    out = {}
    for sub in subs:
        if sub.status == Status.RELEASED:
            eff = grades.released_grade(session, sub)
            if eff is not None:
                out[sub.id] = (eff["total"], eff["max_total"])
    return out


def _window_state(a: Assignment) -> dict[str, Any]:
    """When the assignment takes answers, as the page says it: open now or not, and why."""
    try:
        late = admit(Window.of(a), utcnow())
    except APIError as exc:
        return {"open": False, "why": exc.sentence, "late": False}
    return {"open": True, "why": "", "late": late}


def render_assignment(
    assignment: Assignment, *, error: str | None = None, pasted: str = "", status: int = 200
) -> tuple[str, int]:
    user = current_user()
    subs = _my_submissions(user, assignment)
    rubric = rubrics.rubric_for(assignment.rubric)
    limit = int(current_app.config["MAX_SUBMISSION_BYTES"])
    html = render_template(
        "web/assignment.html",
        assignment=assignment,
        rubric=rubric,
        submissions=subs,
        totals=_released_totals(subs),
        error=error,
        pasted=pasted if len(pasted.encode("utf-8", "replace")) <= limit else "",
        limit=limit,
        limit_text=_kb(limit),
        submit_key=secrets.token_urlsafe(24),
        can_submit=user.role in SUBMITTERS,
        task=rendered_task(rubric.exercise) if rubric.exercise.strip() else None,
        window=_window_state(assignment),
    )
    return html, status


@bp.get("/assignments/<slug>")
@signed_in()
def assignment(slug: str) -> tuple[str, int]:
    session = get_db().session
    a = get_assignment(session, slug)
    enrolments.ensure_may_take(session, a.id, a.restricted, current_user())
    return render_assignment(a)


@bp.post("/assignments/<slug>/submit")
@signed_in(*SUBMITTERS)
def submit_answer(slug: str) -> Any:
    """Store the answer (a new version), commit, then ask a worker to grade it.

    The form carries a one-time key, so a double click or a resent form stores one
    submission, not two.
    """
    user = current_user()
    a = get_assignment(get_db().session, slug)
    enrolments.ensure_may_take(get_db().session, a.id, a.restricted, user)
    pasted = request.form.get("content", "")
    try:
        content = read_answer(
            pasted, request.files.get("upload"), int(current_app.config["MAX_SUBMISSION_BYTES"])
        )
    except FormError as exc:
        return render_assignment(a, error=exc.message, pasted=pasted, status=exc.status)
    raw_key = request.form.get("submit_key", "")
    key = f"web:{raw_key}" if _KEY.match(raw_key) else None
    session = get_db().session
    try:
        sub, created = submissions.submit_and_commit(
            session, a.id, user.id, content, idempotency_key=key, window=Window.of(a)
        )
    except APIError as exc:
        session.rollback()
        if exc.code == "idempotency_conflict":
            message = (
                "This form was already sent with a different answer. "
                "Your answer is still below: send it again to store it as a new version."
            )
            return render_assignment(a, error=message, pasted=pasted, status=409)
        if exc.code in ("not_open", "past_due"):
            message = exc.sentence
            return render_assignment(a, error=message, pasted=pasted, status=exc.status)
        raise
    if created:
        tasks.enqueue_grade(sub.id)
    return redirect(url_for("web.submission", submission_id=sub.id), code=303)


def too_large_submission(view_args: dict[str, Any], limit: int) -> Any:
    """The page for an upload so large the server stopped reading it."""
    slug = str(view_args.get("slug", ""))
    if load_user() is None:
        return error_page(413, "Too large", f"The answer is larger than {_kb(limit)}.")
    a = get_db().session.scalar(select(Assignment).where(Assignment.slug == slug))
    message = f"The answer is larger than the limit of {_kb(limit)}. Nothing was stored."
    user = load_user()
    if (
        a is None
        or user is None
        or not enrolments.may_take(get_db().session, a.id, a.restricted, user)
    ):
        return error_page(413, "Too large", message)
    return render_assignment(a, error=message, status=413)


TOO_LARGE_PAGES["web.submit_answer"] = too_large_submission


def learner_grade(sub: Submission) -> dict[str, Any] | None:
    """The grade exactly as a learner may see it (the API's rules: released only, and never
    the missing concepts, i.e. the answer key)."""
    if sub.status != Status.RELEASED:
        return None
    eff = grades.released_grade(get_db().session, sub)
    return grade_json(eff, sub, staff=False) if eff is not None else None


@bp.get("/submissions/<int:submission_id>")
@signed_in()
def submission(submission_id: int) -> str:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)  # others' submissions: 404
    grade = learner_grade(sub)
    positions = evidence_quotes(grade["criteria"])[1] if grade else []
    # The evidence marked is the released grade's (a newer one may wait for release).
    rendered = shown_answer(
        session,
        sub,
        marks=grade is not None,
        grade_id=sub.released_grade_id if grade is not None else None,
    )
    versions = grades.versions(session, sub.assignment_id, sub.learner_id)
    asked = {r.criterion: r for r in regrade_requests.requests_for(session, sub.id)}
    closes = (
        sub.released_at + timedelta(days=current_app.config["REGRADE_REQUEST_DAYS"])
        if sub.released_at
        else None
    )
    return render_template(
        "web/submission.html",
        requests=asked,
        # The learner may ask (once per criterion) while the window is open.
        can_ask=grade is not None
        and user.id == sub.learner_id
        and user.role == Role.LEARNER
        and sub.current
        and closes is not None
        and utcnow() <= closes,
        requests_close=closes,
        max_message=regrade_requests.MAX_MESSAGE,
        sub=sub,
        grade=grade,
        answer=rendered.html,
        anchors=rendered.anchors,
        positions=positions,
        versions=versions,
        totals=_released_totals(versions),
        staff_view=is_staff(user),
        poll=sub.status in (Status.QUEUED, Status.GRADING, Status.GRADED),
    )


@bp.get("/submissions/<int:submission_id>/status")
@signed_in(json=True)
def submission_status(submission_id: int) -> Response:
    """What the submission page polls: the status only (the page reloads to show more)."""
    user = current_user()
    try:
        sub = load_submission(get_db().session, submission_id, user)
    except APIError:
        response = jsonify({"error": "not found"})
        response.status_code = 404
        return response
    return jsonify(
        {
            "id": sub.id,
            "status": sub.status.value,
            "label": LEARNER_STATUS[sub.status],
            "final": sub.status in (Status.RELEASED, Status.FAILED),
        }
    )
