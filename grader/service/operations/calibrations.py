"""Calibration from instructors: reviewed grades become labels, a fitted calibration becomes
a version of the assignment, and applying it regrades what is not released.

A label is a current submission an instructor reviewed (an override, or an explicit
confirm: :func:`grader.service.operations.reviews.confirm`) whose grade is for the
assignment's rubric version: the grader's own points per criterion beside the points that
stand. :func:`preview` fits (:func:`grader.scoring.learning.fit`) and reports the
out-of-fold figures and what would change; :func:`apply` stores the calibration under its
version, points the assignment at it and starts a job that sends every current answer to
the worker, which grades with it (overrides kept). A released answer's new grade waits for
release: its learner keeps the released grade until an instructor releases the new one
(:func:`grader.service.operations.grades.settle_release`).

Long because: which reviewed answers are labels is one rule (:func:`reviewed`), read in
pages two ways (objects for fitting, plain rows for the dashboard's release-by-risk table),
beside the fit, its preview and its application.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from grader.scoring.learning import (
    MIN_LABELS,
    Calibration,
    Label,
    fit,
    from_held_out,
)
from grader.scoring.rubric import Rubric

from ..errors import APIError
from ..models import (
    Assignment,
    AuditEvent,
    CalibrationVersion,
    Grade,
    Job,
    Override,
    Status,
    Submission,
    User,
)
from . import grades, regrades, rubrics

__all__ = [
    "apply",
    "calibration_for",
    "current",
    "labels",
    "preview",
    "reviewed",
]


_CACHE: dict[str, Calibration | None] = {}
_LOCK = threading.Lock()


def calibration_for(
    open_session: Callable[[], Session], version: str, rubric: Rubric
) -> Calibration | None:
    """The calibration a grade is computed with: the stored one by version, or, for an
    assignment not calibrated yet, the rubric's held-out intervals (None: no interval).
    Versions are immutable, so each is read from the database once per process."""
    key = f"{version}|{rubric.version}" if version else f"|{rubric.version}"
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    if version:
        with open_session() as session:
            data = session.scalar(
                select(CalibrationVersion.data)
                .where(CalibrationVersion.version == version)
                .limit(1)
            )
        found = Calibration.from_dict(data) if data is not None else None
        if found is None or found.rubric_version != rubric.version:
            found = from_held_out(rubric)  # a calibration only serves its own rubric
    else:
        found = from_held_out(rubric)
    with _LOCK:
        _CACHE[key] = found
    return found


def labels(session: Session, a: Assignment) -> list[Label]:
    """The assignment's reviewed current answers for its rubric version, as labels: the
    grade an instructor looked at (the raw points and confidence the grader gave it) beside
    the points they kept. A confirmation names its grade, so a later regrade cannot put
    points in the instructor's mouth; an answer only overridden counts when the overrides
    came after its latest grade."""
    return [
        Label(f"submission-{sid}", _raw_points(grade), kept, _raw_confidence(grade))
        for sid, grade, kept in reviewed(session, a)
    ]


#: Reviewed submissions read per page (four queries a page, whatever their number).
_PAGE = 500


def reviewed(
    session: Session, a: Assignment, *, points: bool = True, newest: int | None = None
) -> Iterator[tuple[int, Grade, dict[str, float]]]:
    """(submission id, the grade an instructor reviewed, the points they kept) for each
    reviewed current answer of the assignment's rubric version, in id order, read in pages
    of ``_PAGE`` with their grades, overrides and confirmations in bulk. Without
    ``points`` the grades' per-criterion JSON is not read (what the release-by-risk table
    needs is each grade's total beside the points kept, from the submission's own row).
    With ``newest``, only what the ``newest`` most recent reviewed answers yield, newest
    first (a bound on what is read, not on what is found)."""
    after = 0
    left = newest
    while left is None or left > 0:
        subs, latest, overrides, confirmed, by_id = _reviewed_page(
            session,
            a,
            after,
            points,
            descending=newest is not None,
            limit=_PAGE if left is None else min(_PAGE, left),
        )
        if not subs:
            return
        if left is not None:
            left -= len(subs)
        ids = [sub.id for sub in subs]
        for sub in subs:
            grade, kept = latest.get(sub.id), overrides.get(sub.id, {})
            if not points and sub.points is None and grade is not None:
                # Graded before rows kept their points: the grade as it stands, from objects.
                sid = sub.id
                sub = session.get(Submission, sid)
                grade = session.get(Grade, grade.id)
                kept = grades.latest_overrides(session, sid)
            found = _reviewed(session, a, sub, grade, kept, confirmed.get(sub.id), by_id, points)
            if found is not None:
                yield sub.id, found[0], found[1]
        after = ids[-1]


def _reviewed_page(
    session: Session,
    a: Assignment,
    after: int,
    points: bool,
    *,
    descending: bool = False,
    limit: int = _PAGE,
) -> tuple[list[Any], dict[int, Any], dict[int, dict[str, Any]], dict[int, Any], dict[int, Any]]:
    """One page of reviewed answers after id ``after`` (before it, newest first, when
    ``descending``; 0 starts): the submissions, each one's latest grade, overrides and
    confirmation, and the grades confirmations name. With ``points`` they are ORM objects;
    without, plain rows of the few columns the release-by-risk table reads (an ORM object
    per row cost seconds at 37,000 reviewed answers)."""
    where = (
        Submission.assignment_id == a.id,
        Submission.current,
        Submission.reviewed.is_(True),
        Submission.status.in_([Status.GRADED, Status.RELEASED]),
        (Submission.id < after if after else true()) if descending else Submission.id > after,
    )
    order = Submission.id.desc() if descending else Submission.id
    grade_cols = (
        Grade.id,
        Grade.submission_id,
        Grade.rubric_version,
        Grade.total,
        Grade.max_total,
        Grade.confidence,
        Grade.interval,
        Grade.created_at,
    )

    read: Callable[[Any], Any] = session.scalars if points else session.execute
    sub_q: Any
    grade_q: Any
    override_q: Any
    event_q: Any
    if points:
        sub_q = select(Submission)
        grade_q = select(Grade)
        override_q = select(Override)
        event_q = select(AuditEvent)
    else:
        sub_q = select(Submission.id, Submission.points)
        grade_q = select(*grade_cols)
        override_q = select(
            Override.submission_id, Override.criterion, Override.points, Override.created_at
        )
        event_q = select(AuditEvent.submission_id, AuditEvent.after, AuditEvent.created_at)
    subs = list(read(sub_q.where(*where).order_by(order).limit(limit)))
    if not subs:
        return [], {}, {}, {}, {}
    ids = [sub.id for sub in subs]
    newest = select(func.max(Grade.id)).where(Grade.submission_id.in_(ids))
    latest = {
        g.submission_id: g
        for g in read(grade_q.where(Grade.id.in_(newest.group_by(Grade.submission_id))))
    }
    overrides: dict[int, dict[str, Any]] = {}
    for o in read(override_q.where(Override.submission_id.in_(ids)).order_by(Override.id)):
        overrides.setdefault(o.submission_id, {})[o.criterion] = o
    confirmed: dict[int, Any] = {}
    for e in read(
        event_q.where(AuditEvent.submission_id.in_(ids), AuditEvent.action == "confirmed").order_by(
            AuditEvent.id
        )
    ):
        confirmed[e.submission_id] = e
    seen_ids = {int((e.after or {}).get("grade_id") or 0) for e in confirmed.values()}
    by_id = {g.id: g for g in latest.values()}
    missing = [i for i in seen_ids - set(by_id) if i]
    if missing:
        by_id.update((g.id, g) for g in read(grade_q.where(Grade.id.in_(missing))))
    return subs, latest, overrides, confirmed, by_id


def _reviewed(
    session: Session,
    a: Assignment,
    sub: Submission,
    latest: Grade | None,
    overrides: dict[str, Override],
    confirmed: AuditEvent | None,
    grades_by_id: dict[int, Grade],
    points: bool = True,
) -> tuple[Grade, dict[str, float]] | None:
    """The grade an instructor reviewed and the points they kept, or None."""
    if latest is None or latest.rubric_version != a.rubric_version:
        return None
    seen = (confirmed.after or {}) if confirmed is not None else {}
    if seen.get("grade_id"):
        grade = grades_by_id.get(int(seen["grade_id"]))
        if grade is None or grade.rubric_version != a.rubric_version:
            return None
        kept = {str(k): float(v) for k, v in seen.get("criteria", {}).items()}
        assert confirmed is not None
        for cid, o in overrides.items():  # changed after the confirmation: those count
            if o.created_at > confirmed.created_at:
                kept[cid] = float(o.points)
    elif overrides and max(o.created_at for o in overrides.values()) >= latest.created_at:
        grade = latest
        if not points and sub.points is not None:
            # The row keeps the latest grade's points as they stand, overrides applied.
            return grade, {str(k): float(v) for k, v in sub.points.items()}
        eff = grades.effective_grade(session, sub, grade=grade, overrides=overrides)
        assert eff is not None
        kept = {c["id"]: float(c["points"]) for c in eff["criteria"]}
    else:
        return None
    if points and set(_raw_points(grade)) != set(kept):
        return None
    return grade, kept


def _raw_points(grade: Grade) -> dict[str, float]:
    """The grader's own points per criterion (before any calibration)."""
    return {
        c["id"]: float(c.get("signals", {}).get("grader_points", c["points"]))
        for c in grade.criteria
    }


def _raw_confidence(grade: Grade) -> float:
    """The grader's own confidence (a calibrated grade's is the calibration's)."""
    interval = grade.interval or {}
    return float(interval.get("grader_confidence", grade.confidence))


def _fit(session: Session, a: Assignment, level: float) -> tuple[Calibration, Rubric]:
    rubric = rubrics.rubric_for(a.rubric)
    found = labels(session, a)
    if not found:
        raise APIError(
            409,
            "no_labels",
            "no reviewed grades yet: confirm or override some grades first",
            field="labels",
        )
    cal = fit(
        found,
        {c.id: float(c.points) for c in rubric.criteria},
        rubric_version=a.rubric_version,
        level=level,
        held_out=rubric.held_out_errors,
    )
    return cal, rubric


def preview(session: Session, a: Assignment, level: float) -> dict[str, Any]:
    """The calibration the reviewed grades give, its out-of-fold figures, and what applying
    it would change for the current answers (a released one's new grade would wait for
    release: ``released_waiting``)."""
    cal, _ = _fit(session, a, level)
    changed, waiting, deltas = 0, 0, []
    for sub in session.scalars(
        select(Submission).where(
            Submission.assignment_id == a.id,
            Submission.current,
            Submission.status.in_([Status.GRADED, Status.RELEASED]),
        )
    ):
        grade = grades.latest_grade(session, sub.id)
        if grade is None or grade.rubric_version != a.rubric_version:
            continue
        raw = {
            c["id"]: float(c.get("signals", {}).get("grader_points", c["points"]))
            for c in grade.criteria
        }
        overrides = grades.latest_overrides(session, sub.id)
        after = cal.apply(raw, float(grade.confidence)).points
        total = sum(overrides[c].points if c in overrides else p for c, p in after.items())
        delta = round(total - (sub.total or 0.0), 2)
        if abs(delta) >= 0.01:
            changed += 1
            deltas.append(abs(delta))
            waiting += sub.status == Status.RELEASED
    return {
        "calibration": describe(cal),
        "would_change": {
            "submissions": changed,
            "mean_abs_change": round(sum(deltas) / len(deltas), 2) if deltas else 0.0,
            "max_abs_change": max(deltas, default=0.0),
            "released_waiting": waiting,
        },
    }


def apply(
    session: Session,
    a: Assignment,
    actor: User,
    level: float,
    rubrics_dir: str,
    send: Callable[[int], bool],
) -> tuple[dict[str, Any], Job]:
    """Store the fitted calibration as a new version of the assignment and regrade with it
    (a job); refused when it would change nothing the labels show it should."""
    cal, _ = _fit(session, a, level)
    if cal.labels < MIN_LABELS or not cal.applied:
        reasons = "; ".join(f"{m.criterion}: {m.reason}" for m in cal.maps if not m.applied)
        raise APIError(
            409,
            "calibration_refused",
            f"the calibration would not beat the uncalibrated grades out of fold ({reasons})",
            field="labels",
        )
    exists = session.scalar(
        select(CalibrationVersion.id).where(
            CalibrationVersion.assignment_id == a.id, CalibrationVersion.version == cal.version
        )
    )
    if exists is not None and a.calibration_version != cal.version:
        # Its grades exist already (one per submission and version): they cannot be made
        # current again without a newer grade. Review more answers to fit a new version.
        raise APIError(
            409,
            "calibration_used_before",
            f"this calibration (version {cal.version}) was applied before and replaced; "
            "confirm or override more grades to fit a new one",
            field="labels",
        )
    if exists is None:
        session.add(
            CalibrationVersion(
                assignment_id=a.id,
                version=cal.version,
                rubric_version=cal.rubric_version,
                data=cal.to_dict(),
                created_by_id=actor.id,
            )
        )
    a.calibration_version = cal.version
    job = regrades.start(session, a, actor, regrades.RECALIBRATE, rubrics_dir, send)
    return describe(cal), job


def current(session: Session, a: Assignment) -> dict[str, Any] | None:
    """The calibration new grades use, with its figures; None before the first."""
    if not a.calibration_version:
        return None
    row = session.scalar(
        select(CalibrationVersion).where(
            CalibrationVersion.assignment_id == a.id,
            CalibrationVersion.version == a.calibration_version,
        )
    )
    if row is None:
        return None
    out = describe(Calibration.from_dict(row.data))
    out["created_at"] = row.created_at.isoformat()
    out["created_by"] = row.created_by_id
    return out


def describe(cal: Calibration) -> dict[str, Any]:
    """A calibration as the API shows it."""
    return {
        "version": cal.version,
        "rubric_version": cal.rubric_version,
        "labels": cal.labels,
        "level": cal.level,
        "applied": cal.applied,
        "source": cal.source,
        "quantile": round(cal.quantile, 3),
        "mae_total_before": cal.figures.get("mae_total_before"),
        "mae_total_after": cal.figures.get("mae_total_after"),
        "criteria": [
            {
                "id": m.criterion,
                "applied": m.applied,
                "slope": round(m.slope, 4),
                "intercept": round(m.intercept, 4),
                "mae_before": m.mae_before,
                "mae_after": m.mae_after,
                "reason": m.reason,
            }
            for m in cal.maps
        ],
    }
