"""An assignment's dashboard: counts, score distributions, release, regrade (with a dry-run
diff first) and the gradebook CSV."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import tasks
from ..auth import STAFF
from ..db import get_db
from ..downloads import stream_download
from ..errors import APIError
from ..lti.scores import gradebook_sync
from ..models import Assignment, Job, JobStatus, Role, RubricVersion, Status, User, utcnow
from ..operations import (
    calibrations,
    exports,
    regrades,
    releases,
    risk,
    rubrics,
    shares,
    statistics,
)
from ..operations.assignments import get_assignment
from .blueprint import bp, notify
from .charts import Histogram, drawn_histogram, paired_bars
from .session import current_user, signed_in

MAX_IDS = 1000


#: Graded answers listed per page of the dashboard's release table.
PAGE = 50
#: Bins of the totals' histogram and of each criterion's.
_TOTAL_BINS, _CRITERION_BINS = 10, 5


#: An id in a form or a query (ASCII digits: str.isdigit also takes "²", which int refuses).
_ID = re.compile(r"[0-9]{1,10}")


def render_dashboard(
    a: Assignment,
    *,
    preview: dict[str, Any] | None = None,
    pending: int | None = None,
    preview_job: int | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = get_db().session
    # One pass for the counts and the stamp the kept figures are checked against.
    seen = statistics.overview(session, a.id)
    counts = seen.counts
    rubric = rubrics.rubric_for(a.rubric)
    found = statistics.distributions(
        session,
        a.id,
        statistics.Bins(rubric.max_total, _TOTAL_BINS),
        {c.id: statistics.Bins(c.points, _CRITERION_BINS) for c in rubric.criteria},
        seen.stamp,
    )
    charts, total_hist = _charts(found, rubric)
    # Graded answers, and released ones whose newer grade waits for release.
    renewed = seen.release_pending
    waiting = counts[Status.GRADED.value] + renewed
    pages = max(1, (waiting + PAGE - 1) // PAGE)
    page = min(pages, max(1, request.args.get("page", 1, type=int) or 1))
    graded = list(
        session.scalars(releases.selection(a.id, "all").offset((page - 1) * PAGE).limit(PAGE))
    )
    calibration = calibrations.current(session, a)
    team = session.scalars(
        select(User)
        .where(User.role.in_([Role.INSTRUCTOR, Role.ADMIN]), User.active.is_(True))
        .order_by(User.name, User.id)
        .limit(100)
    ).all()
    html = render_template(
        "web/dashboard.html",
        assignment=a,
        now=utcnow(),
        rubric=rubric,
        counts=counts,
        current_total=sum(counts.values()),
        reviewed=seen.reviewed,
        total_hist=total_hist,
        charts=charts,
        graded=graded,
        page=page,
        pages=pages,
        waiting=waiting,
        renewed=renewed,
        team=team,
        shares=shares.shares(session, a),
        preview=preview,
        preview_job=preview_job,
        pending=pending,
        pending_progress=regrades.progress(session, job)
        if pending is not None and (job := session.get(Job, pending)) is not None
        else None,
        regrading=_regrading(session, a),
        risk=risk.release_risk(session, a, seen.stamp),
        risk_sample=risk.RISK_SAMPLE,
        gradebook=gradebook_sync(session, a.id),
        calibration=calibration,
        calibration_chart=paired_bars(
            [
                (c["id"].replace("_", " "), c["mae_before"] or 0.0, c["mae_after"] or 0.0)
                for c in calibration["criteria"]
            ]
        )
        if calibration
        else None,
    )
    return html, status


@bp.get("/dashboard/<slug>")
@signed_in(*STAFF)
def dashboard(slug: str) -> tuple[str, int]:
    """The dashboard; ``?preview=<job>`` shows a regrade's dry run once the worker has run it
    (the page refreshes itself while it runs)."""
    a = get_assignment(get_db().session, slug)
    raw = request.args.get("preview", "")
    if not raw:
        return render_dashboard(a)
    if not _ID.fullmatch(raw):
        notify("That preview does not exist.", "error")
        return render_dashboard(a, status=404)
    try:
        job = regrades.load(get_db().session, int(raw), a)
    except APIError:
        notify("That preview does not exist.", "error")
        return render_dashboard(a, status=404)
    if job.kind != regrades.PREVIEW:
        notify("That job is not a preview.", "error")
        return render_dashboard(a, status=404)
    if job.status == JobStatus.FAILED:
        notify(f"The dry run failed: {job.error}.", "error")
        return render_dashboard(a)
    if job.status == JobStatus.CANCELLED:
        notify(f"The dry run was {job.error}.")
        return render_dashboard(a)
    if job.status != JobStatus.DONE or job.result is None:
        return render_dashboard(a, pending=job.id)
    return render_dashboard(a, preview=job.result, preview_job=job.id)


# The charts of the distributions last drawn, per assignment's rubric version: drawn again
# only when the distributions are read again (statistics keeps them until a change).
_DRAWN: dict[str, tuple[statistics.Distributions, Any]] = {}


def _charts(found: statistics.Distributions, rubric: Any) -> Any:
    hit = _DRAWN.get(rubric.version)
    if hit is not None and hit[0] is found:
        return hit[1]

    def drawn(series: statistics.Series, top: float, **size: int) -> Histogram:
        return drawn_histogram(series.counts, top, series.mean, series.median, **size)

    charts = [
        {
            "id": c.id,
            "name": c.name,
            "max": c.points,
            "hist": drawn(found.criteria[c.id], c.points, width=300, height=140),
        }
        for c in rubric.criteria
    ]
    out = (charts, drawn(found.totals, rubric.max_total))
    _DRAWN[rubric.version] = (found, out)
    return out


def _regrading(session: Any, a: Assignment) -> dict[str, int] | None:
    """The latest regrade's progress while some answers still wait for it."""
    latest = session.scalar(
        select(Job)
        .where(Job.assignment_id == a.id, Job.kind.in_([regrades.REGRADE, regrades.RECALIBRATE]))
        .order_by(Job.id.desc())
        .limit(1)
    )
    done = regrades.progress(session, latest) if latest is not None else None
    return done if done is not None and done["done"] < done["total"] else None


@bp.get("/dashboard/<slug>/regrade/<int:job_id>/changes.csv")
@signed_in(*STAFF)
def regrade_changes(slug: str, job_id: int) -> Response:
    """A dry run's diff, downloaded (the API's jobChanges, through the same operation)."""
    session = get_db().session
    a = get_assignment(session, slug)
    job = regrades.load(session, job_id, a)
    if job.kind != regrades.PREVIEW or job.status != JobStatus.DONE:
        raise APIError(409, "not_done", "only a finished dry run has a diff")
    return Response(
        list(regrades.changes_csv(job)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{a.slug}-regrade-{job.id}.csv"'},
    )


@bp.post("/dashboard/<slug>/release")
@signed_in(*STAFF)
def release_many(slug: str) -> Response:
    """Release one (its row's button), the selected rows, or every reviewed submission.
    Only graded, current submissions are released; anything else in the list is skipped."""
    user = current_user()
    session = get_db().session
    a = get_assignment(session, slug)
    back = redirect(url_for("web.dashboard", slug=slug), code=303)
    mode = request.form.get("mode", "")
    one = request.form.get("one", "")
    if one:
        if not _ID.fullmatch(one):
            notify("That is not a submission id.", "error")
            return back
        query = releases.selection(a.id, "ids", ids=[int(one)])
    elif mode == "selected":
        raw = request.form.getlist("ids")
        if not raw:
            notify("Select the submissions to release first.", "error")
            return back
        if len(raw) > MAX_IDS or not all(_ID.fullmatch(r) for r in raw):
            notify("The selection is not valid; reload the page and select again.", "error")
            return back
        query = releases.selection(a.id, "ids", ids=[int(r) for r in raw])
    elif mode == "reviewed":
        query = releases.selection(a.id, "reviewed")
    elif mode == "confidence":
        level = request.form.get("level", "")
        if level not in {str(x) for x in risk.RISK_LEVELS}:
            notify("Choose one of the confidence levels in the table.", "error")
            return back
        query = releases.selection(a.id, "confidence", min_confidence=float(level))
    else:
        notify("Choose what to release.", "error")
        return back
    released, held = releases.release_many(session, session.scalars(query).all(), user)
    session.commit()
    if released:
        ids = ", ".join(f"#{i}" for i in released[:20]) + (" …" if len(released) > 20 else "")
        notify(f"Released {len(released)} submission{'s' * (len(released) != 1)}: {ids}.")
    elif not held:
        notify("Nothing was released: no graded submission matched.", "error")
    if held:
        ids = ", ".join(f"#{i}" for i in held[:20]) + (" …" if len(held) > 20 else "")
        notify(f"Not released, claimed by another instructor: {ids}.", "error")
    return back


@bp.post("/dashboard/<slug>/regrade")
@signed_in(*STAFF)
def regrade(slug: str) -> Any:
    """``action=preview`` has the worker grade every current answer with the rubric file as it
    is now (writing no grade) and shows what would change; ``action=apply`` (from the preview,
    for the version it showed: the file's, or one edited in the pages) switches the
    assignment to it and has the worker send the regrade. Neither grades inside the
    request."""
    session = get_db().session
    a = get_assignment(session, slug)
    action = request.form.get("action", "")
    try:
        path = rubrics.rubric_path(current_app.config["RUBRICS_DIR"], a.rubric_file)
        rubric = rubrics.read_rubric(path)
    except APIError as exc:
        notify(f"The rubric file cannot be used: {exc.message}.", "error")
        return redirect(url_for("web.dashboard", slug=slug), code=303)
    if action not in ("preview", "apply"):
        notify("Choose preview or apply.", "error")
        return redirect(url_for("web.dashboard", slug=slug), code=303)
    wanted = request.form.get("version", "")
    edited = None  # a version edited in the pages (web.rubric_edit), stored under its hash
    if action == "apply" and wanted != rubric.version:
        edited = session.get(RubricVersion, wanted) if wanted and len(wanted) <= 64 else None
        previewed = edited is not None and session.scalar(
            select(Job.id)
            .where(
                Job.assignment_id == a.id,
                Job.kind == regrades.PREVIEW,
                Job.rubric_version == edited.version,
            )
            .limit(1)
        )
        if edited is None or not previewed:  # only a version previewed for this assignment
            notify("The rubric changed since the preview: preview the regrade again.", "error")
            return redirect(url_for("web.dashboard", slug=slug), code=303)
    kind = regrades.PREVIEW if action == "preview" else regrades.REGRADE
    try:
        job = regrades.start(
            session,
            a,
            current_user(),
            kind,
            current_app.config["RUBRICS_DIR"],
            tasks.enqueue_job,
            version=edited.version if edited is not None else None,
        )
    except APIError as exc:
        notify(f"The dry run could not start: {exc.message}.", "error")
        return redirect(url_for("web.dashboard", slug=slug), code=303)
    if kind == regrades.PREVIEW:
        return redirect(url_for("web.dashboard", slug=slug, preview=job.id), code=303)
    notify(
        f"Regrading with rubric version {wanted or rubric.version}: the worker is sending every "
        "current answer; instructors' overrides are kept."
    )
    return redirect(url_for("web.dashboard", slug=slug), code=303)


@bp.get("/dashboard/<slug>/grades.csv")
@signed_in(*STAFF)
def gradebook(slug: str) -> Response:
    """The gradebook for a signed-in instructor: the API's export, through the same operation."""
    session = get_db().session
    a = get_assignment(session, slug)
    return stream_download(exports.gradebook_csv, a.id, filename=exports.gradebook_filename(a))


@bp.post("/dashboard/<slug>/shares")
@signed_in(*STAFF)
def split_review(slug: str) -> Response:
    """Deal the answers waiting for review among the instructors ticked (operations.shares)."""
    session = get_db().session
    a = get_assignment(session, slug)
    ids = [int(i) for i in request.form.getlist("reviewers")[:100] if _ID.fullmatch(i)]
    try:
        if not ids:
            raise APIError(422, "invalid_reviewers", "tick at least one instructor")
        dealt = shares.split(
            session,
            a,
            ids,
            request.form.get("mode", "random"),
            reassign=request.form.get("reassign") == "1",
        )
        session.commit()
        notify(f"Dealt {sum(dealt.values())} answers among {len(dealt)} instructors.")
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
    return redirect(url_for("web.dashboard", slug=a.slug), code=303)


@bp.post("/dashboard/<slug>/lti/scores/<int:score_id>/resend")
@signed_in(*STAFF)
def resend_lti_score(slug: str, score_id: int) -> Response:
    """Send a score the LMS refused again, once it is fixed there."""
    from ..lti.delivery import resend
    from ..lti.models import ScoreStatus
    from ..lti.tasks import enqueue_score

    session = get_db().session
    a = get_assignment(session, slug)
    post = resend(session, a.id, score_id)
    session.commit()
    if post.status == ScoreStatus.PENDING:
        enqueue_score(post.id)
        notify("The score is on its way to the gradebook again.")
    return redirect(url_for("web.dashboard", slug=a.slug) + "#gradebook-sync", code=303)


@bp.post("/dashboard/<slug>/regrade/<int:job_id>/cancel")
@signed_in(*STAFF)
def cancel_preview(slug: str, job_id: int) -> Response:
    """Stop a dry run that is taking too long (the API's cancelJob)."""
    session = get_db().session
    a = get_assignment(session, slug)
    try:
        regrades.cancel(session, regrades.load(session, job_id, a), current_user())
        session.commit()
        notify("The dry run is cancelled.")
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
    return redirect(url_for("web.dashboard", slug=a.slug), code=303)
