"""Instructors' review pages: the queue and one submission (answer, parse, points, evidence,
overrides, release, history), with next/previous through the queue as filtered.

Long because: the queue page and the page of one submission under review share the
queue's filters, its neighbours and the actions the review page posts (claim, confirm,
override, release, retry, grade by hand), each a few lines that call the operations.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlencode

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...scoring.confidence import REVIEW_MESSAGES
from .. import tasks
from ..answers import shown_answer
from ..auth import STAFF, load_submission
from ..db import get_db
from ..errors import APIError
from ..fields import parse_query
from ..models import Assignment, Grade, Status, Submission, User, utcnow
from ..operations import (
    comment_bank,
    copies,
    grades,
    regrade_requests,
    releases,
    reviews,
    rubrics,
)
from ..operations.queue import QueueFilter, queue_count, queue_query
from ..operations.reviews import claim_submission
from ..render import evidence_quotes
from .blueprint import FLAG_LABELS, bp, notify
from .session import current_user, signed_in

# The queue's filters, carried from the queue to each submission and back.
FILTERS = (
    "assignment",
    "status",
    "flag",
    "reason",
    "min_total",
    "max_total",
    "reviewed",
    "unclaimed",
    "requests",
    "learner",
    "text",
    "sort",
)
STATUS_CHOICES = ("graded", "queued", "grading", "released", "failed", "all")
SORT_CHOICES = {
    "confidence": "Least confident first",
    "-confidence": "Most confident first",
    "total": "Lowest total first",
    "-total": "Highest total first",
    "time": "Oldest first",
    "-time": "Newest first",
}


def queue_filters(args: Any) -> dict[str, Any]:
    return {k: args[k] for k in FILTERS if args.get(k)}


def _users(ids: set[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = get_db().session.scalars(select(User).where(User.id.in_(wanted)))
    return {u.id: u for u in rows}


def _int(raw: str | None, default: int, lo: int, hi: int) -> int:
    try:
        value = int(raw or default)
    except ValueError:
        return default
    return min(max(value, lo), hi)


@bp.get("/review")
@signed_in(*STAFF)
def review_queue() -> tuple[str, int]:
    """Current submissions, least confident first, filtered like the API's queue."""
    session = get_db().session
    filters = queue_filters(request.args)
    error = None
    rows: list[Submission] = []
    total, capped = 0, False
    per_page = int(current_app.config["PAGE_SIZE"])
    page = _int(request.args.get("page"), 1, 1, 100_000)
    try:
        query, _sort = queue_query(parse_query(QueueFilter, request.args), current_user().id)
        total, capped = queue_count(session, query)
        pages = max(1, math.ceil(total / per_page))
        if not capped:
            page = min(page, pages)
        rows = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
        if capped:  # past the count, a page leads on while there is more
            pages = max(pages, page + 1 if len(rows) > per_page else page)
        rows = rows[:per_page]
    except APIError as exc:
        labels = {"min_total": "“Total from”", "max_total": "“to”"}
        if exc.field in labels:
            error = f"{labels[exc.field]} must be a number, e.g. 40 or 72.5."
        else:
            error = exc.sentence
        pages = 1
    now = utcnow()
    claimers = _users({s.claimed_by_id for s in rows})
    assignments = session.scalars(select(Assignment).order_by(Assignment.title)).all()
    html = render_template(
        "web/review_queue.html",
        rows=rows,
        offset=(page - 1) * per_page,
        total=total,
        capped=capped,
        page=page,
        pages=pages,
        filters=filters,
        error=error,
        now=now,
        claimers=claimers,
        assignments=assignments,
        status_choices=STATUS_CHOICES,
        sort_choices=SORT_CHOICES,
        flag_choices=FLAG_LABELS,
        reason_choices=sorted(REVIEW_MESSAGES),
        page_url=lambda p: url_for("web.review_queue", page=p, **filters),
    )
    return html, 400 if error else 200


def _neighbours(sub_id: int, pos: int | None) -> dict[str, Any]:
    """Previous and next submission in the queue as filtered (by request.args).

    If this submission has left the queue (e.g. reviewed while the queue shows unreviewed
    ones), its old position ``pos`` says where the rest continues.
    """
    try:
        query, _ = queue_query(parse_query(QueueFilter, request.args), current_user().id)
    except APIError:
        return {}
    ids = list(get_db().session.scalars(query.with_only_columns(Submission.id)))
    if sub_id in ids:
        i = ids.index(sub_id)
        prev_i, next_i, here = i - 1, i + 1, i
    else:
        p = min(max(pos or 0, 0), len(ids))
        prev_i, next_i, here = p - 1, p, None
    out: dict[str, Any] = {"count": len(ids), "position": here}
    filters = queue_filters(request.args)
    if 0 <= prev_i < len(ids):
        out["prev"] = url_for(
            "web.review_submission", submission_id=ids[prev_i], pos=prev_i, **filters
        )
    if 0 <= next_i < len(ids):
        out["next"] = url_for(
            "web.review_submission", submission_id=ids[next_i], pos=next_i, **filters
        )
    out["queue"] = url_for("web.review_queue", **filters)
    return out


def _latest_grade_row(sub: Submission) -> Grade | None:
    return get_db().session.scalar(
        select(Grade).where(Grade.submission_id == sub.id).order_by(Grade.id.desc()).limit(1)
    )


def _here(sub: Submission) -> str:
    """This page's address with the queue filters and position kept (forms post to their
    action with the same query string, so a POST comes back to where it was sent from)."""
    args = queue_filters(request.args)
    pos = request.args.get("pos")
    if pos and pos.isdigit():
        args["pos"] = pos
    return url_for("web.review_submission", submission_id=sub.id) + (
        "?" + urlencode(args) if args else ""
    )


def render_review(
    sub: Submission,
    *,
    form_errors: dict[str, str] | None = None,
    form_values: dict[str, dict[str, str]] | None = None,
    request_errors: dict[int, str] | None = None,
    request_values: dict[int, dict[str, str]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = get_db().session
    user = current_user()
    eff = grades.effective_grade(session, sub)
    criteria = eff["criteria"] if eff else []
    ids = {c["id"] for c in criteria}
    positions = evidence_quotes(criteria)[1]
    rendered = shown_answer(session, sub, marks=True)
    grade_row = _latest_grade_row(sub)
    events = grades.history(session, sub.id)
    versions = grades.versions(session, sub.assignment_id, sub.learner_id)
    now = utcnow()
    claim_active = sub.claimed_by_id is not None and (
        sub.claim_expires_at is not None and sub.claim_expires_at > now
    )
    claimer = session.get(User, sub.claimed_by_id) if claim_active and sub.claimed_by_id else None
    overriders = _users(
        {c["override"]["by"] for c in criteria if c.get("override")} | {e.actor_id for e in events}
    )
    pos_raw = request.args.get("pos", "")
    nav = _neighbours(sub.id, int(pos_raw) if pos_raw.isdigit() else None)
    html = render_template(
        "web/review_submission.html",
        sub=sub,
        eff=eff,
        criteria=criteria,
        answer=rendered.html,
        anchors=rendered.anchors,
        positions=positions,
        plan=grade_row.plan if grade_row else None,
        grade_row=grade_row,
        events=events,
        versions=versions,
        claimer=claimer,
        claimed_by_me=claim_active and sub.claimed_by_id == user.id,
        claimed_by_other=claim_active and sub.claimed_by_id != user.id,
        overriders=overriders,
        nav=nav,
        here=_here(sub),
        keep=dict(queue_filters(request.args), **({"pos": pos_raw} if pos_raw.isdigit() else {})),
        form_errors=form_errors or {},
        # An error for a criterion the page has no form for (a forged or stale form).
        other_errors=[m for k, m in (form_errors or {}).items() if k not in ids],
        form_values=form_values or {},
        max_reason=reviews.MAX_REASON,
        requests=regrade_requests.requests_for(session, sub.id),
        copy_hints=copies.hints_for(session, sub, passages=True) if sub.copy_hints else [],
        # Each criterion's reusable comments, offered in its comment field.
        bank={
            k: [c.text for c in v] for k, v in comment_bank.bank(session, sub.assignment).items()
        },
        request_errors=request_errors or {},
        request_values=request_values or {},
        criterion_names={c["id"]: c["name"] for c in criteria},
        # A failed submission can be graded by hand: one field per criterion.
        hand_criteria=rubrics.rubric_for(sub.assignment.rubric).criteria
        if sub.status == Status.FAILED
        else (),
    )
    return html, status


@bp.get("/review/submissions/<int:submission_id>")
@signed_in(*STAFF)
def review_submission(submission_id: int) -> tuple[str, int]:
    sub = load_submission(get_db().session, submission_id, current_user())
    return render_review(sub)


@bp.post("/review/submissions/<int:submission_id>/override")
@signed_in(*STAFF)
def override(submission_id: int) -> Any:
    """Set one criterion's points, with the reason (required), through reviews.override."""
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    criterion = request.form.get("criterion", "")
    raw_points = request.form.get("points", "").strip().replace(",", ".")
    reason = request.form.get("reason", "").strip()
    comment = request.form.get("comment", "").strip()
    values = {
        criterion: {
            "points": request.form.get("points", ""),
            "reason": reason,
            "comment": comment,
            "keep": request.form.get("keep", ""),
        }
    }

    def fail(message: str, status: int = 400) -> tuple[str, int]:
        session.rollback()
        return render_review(
            sub, form_errors={criterion: message}, form_values=values, status=status
        )

    try:
        points = float(raw_points)
    except ValueError:
        return fail("Points must be a number, e.g. 12 or 12.5.")
    if not math.isfinite(points):
        return fail("Points must be a number, e.g. 12 or 12.5.")
    try:
        comment_bank.override_and_keep(
            session, sub, user, criterion, points, reason, comment, request.form.get("keep") == "1"
        )
    except APIError as exc:
        return fail(exc.sentence, exc.status)
    session.commit()
    notify(f"Saved: {criterion.replace('_', ' ')} is now {points:g} points.")
    return redirect(_here(sub), code=303)


def review_action(submission_id: int, act: Any, done: str) -> Response:
    """Run a one-button action of the review page (``act(session, sub, user)``, which may
    return the message to show), then come back to the page with what happened."""
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    try:
        message = act(session, sub, user) or done
        session.commit()
        notify(message)
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
    return redirect(_here(sub), code=303)


@bp.post("/review/submissions/<int:submission_id>/claim")
@signed_in(*STAFF)
def claim(submission_id: int) -> Response:
    seconds = int(current_app.config["CLAIM_SECONDS"])

    def act(session: Any, sub: Submission, user: User) -> str:
        claim_submission(session, sub, user, seconds)
        return f"Claimed for {seconds // 60} minutes: other instructors cannot change it."

    return review_action(submission_id, act, "Claimed.")


@bp.post("/review/submissions/<int:submission_id>/unclaim")
@signed_in(*STAFF)
def unclaim(submission_id: int) -> Response:
    def act(session: Any, sub: Submission, user: User) -> str:
        reviews.drop_claim(session, sub, user)
        return "Claim dropped."

    return review_action(submission_id, act, "Claim dropped.")


@bp.post("/review/submissions/<int:submission_id>/confirm")
@signed_in(*STAFF)
def confirm(submission_id: int) -> Response:
    def act(session: Any, sub: Submission, user: User) -> str:
        reviews.confirm(session, sub, user)  # refuses another's claim (409)
        return "Confirmed: the grade is marked reviewed and counts as a label for calibration."

    return review_action(submission_id, act, "Confirmed.")


@bp.post("/review/submissions/<int:submission_id>/release")
@signed_in(*STAFF)
def release(submission_id: int) -> Response:
    def act(session: Any, sub: Submission, user: User) -> str:
        again = sub.release_pending
        if not releases.release(session, sub, user):  # refuses another's claim (409)
            return "It was already released."
        if again:
            return "Released: the learner has the new grade now."
        return "Released: the learner can see the grade now."

    return review_action(submission_id, act, "Released.")


_NUMBER = re.compile(r"^\d{1,6}(?:\.\d{1,3})?$")


@bp.post("/review/submissions/<int:submission_id>/grade-by-hand")
@signed_in(*STAFF)
def grade_by_hand(submission_id: int) -> Response:
    """Every criterion's points for a failed submission, with the reason (required)."""
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    points: dict[str, float] = {}
    for c in rubrics.rubric_for(sub.assignment.rubric).criteria:
        raw = request.form.get(f"points-{c.id}", "").strip().replace(",", ".")
        value = float(raw) if _NUMBER.match(raw) else math.nan
        if not math.isfinite(value):
            notify(f"Points for {c.name} must be a number, e.g. 12 or 12.5.", "error")
            return redirect(_here(sub), code=303)
        points[c.id] = value
    try:
        reviews.grade_by_hand(
            session,
            sub,
            user,
            points,
            request.form.get("reason", ""),
            request.form.get("comment", ""),
        )
        session.commit()
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
        return redirect(_here(sub), code=303)
    notify("Graded by hand: the grade waits for release like any other.")
    return redirect(_here(sub), code=303)


@bp.post("/review/submissions/<int:submission_id>/retry")
@signed_in(*STAFF)
def retry(submission_id: int) -> Response:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    try:
        reviews.retry(session, sub, user)
        session.commit()
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
        return redirect(_here(sub), code=303)
    tasks.enqueue_grade(sub.id)
    notify("Queued for grading again.")
    return redirect(_here(sub), code=303)


@bp.post("/review/claim")
@signed_in(*STAFF)
def claim_from_queue() -> Response:
    """The queue's Claim button: claim, then open the submission."""
    user = current_user()
    session = get_db().session
    raw = request.form.get("submission", "")
    if not raw.isdigit():
        notify("Choose a submission to claim.", "error")
        return redirect(url_for("web.review_queue", **queue_filters(request.args)), code=303)
    sub = load_submission(session, int(raw), user)
    try:
        claim_submission(session, sub, user, int(current_app.config["CLAIM_SECONDS"]))
        session.commit()
        notify("Claimed: other instructors cannot change it for now.")
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
        return redirect(url_for("web.review_queue", **queue_filters(request.args)), code=303)
    return redirect(_here(sub), code=303)
