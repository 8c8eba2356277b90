"""Grades: storing the grader's output, and reading a grade as it stands (the latest grader
output with instructors' overrides applied), a learner's versions and a submission's trail.

Long because: a grade's rules live here once (storing, regrading from the text or from the
stored measurement, the effective grade with overrides, release settling, the dry run's
diff); splitting them would spread one record's invariants over several modules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from grader.scoring import Grade as ScoredGrade
from grader.scoring import Rubric, grade_text
from grader.scoring.grade import finish_grade

from ..models import (
    AuditEvent,
    Grade,
    Override,
    Status,
    Submission,
)
from .assignments import shown_learner
from .events import audit, emit

log = logging.getLogger(__name__)


def versions(session: Session, assignment_id: int, learner_id: int) -> list[Submission]:
    """A learner's submissions to one assignment, newest version first."""
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.assignment_id == assignment_id, Submission.learner_id == learner_id)
            .order_by(Submission.version.desc())
        )
    )


def history(session: Session, submission_id: int) -> list[AuditEvent]:
    """A submission's audit trail, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.submission_id == submission_id)
            .order_by(AuditEvent.id)
        )
    )


def event_json(e: AuditEvent, sub: Submission) -> dict[str, Any]:
    """One event of a submission's trail as staff read it (blind review hides the learner
    behind their own actions, as everywhere else)."""
    actor: dict[str, Any] | None = None
    if e.actor is not None:
        actor = {"id": e.actor.id, "name": e.actor.name, "role": e.actor.role.value}
        if e.actor_id == sub.learner_id:
            actor |= shown_learner(sub)
    after = e.after
    if e.action == "superseded" and sub.assignment.blind_review:
        after = None  # which version replaced it would link the learner's versions
    return {
        "id": e.id,
        "action": e.action,
        "at": e.created_at.isoformat(),
        "actor": actor,
        "before": e.before,
        "after": after,
        "reason": e.reason,
    }


def latest_grade(session: Session, submission_id: int) -> Grade | None:
    return session.scalar(
        select(Grade).where(Grade.submission_id == submission_id).order_by(Grade.id.desc()).limit(1)
    )


def grade_values(
    submission_id: int, version: str, scored: ScoredGrade, view: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A grade row's columns; ``view`` is the rendered answer (``render.render_for_grade``)."""
    data = scored.to_dict()
    return {
        "answer_html": None,
        "answer_anchors": None,
        **(view or {}),
        "submission_id": submission_id,
        "rubric_version": version,
        "total": scored.total,
        "max_total": scored.max_total,
        "confidence": scored.confidence,
        "flags": data["flags"],
        "review_reasons": data["review_reasons"],
        "criteria": data["criteria"],
        "warnings": data["warnings"],
        "plan": data["plan"],
        "measured": scored.measured,
        "calibration_version": scored.calibration_version,
        # Stored with the interval: the grader's own confidence, which labels pair with
        # (operations.calibrations); the API's interval leaves it out.
        "interval": (
            scored.interval | {"grader_confidence": scored.grader_confidence}
            if scored.interval is not None and scored.grader_confidence is not None
            else scored.interval
        ),
    }


def store_regrade(
    session: Session,
    submission_id: int,
    version: str,
    scored: ScoredGrade,
    view: dict[str, Any] | None = None,
) -> str:
    """A new grade beside earlier ones (a regrade keeps overrides), or one a platform hears of."""
    try:
        with session.begin():
            sub = session.get(Submission, submission_id, with_for_update={"of": Submission})
            if sub is None:
                return "missing"
            overrides = latest_overrides(session, submission_id)  # read once for all three
            previous = effective_grade(session, sub, overrides=overrides)
            grade = Grade(**grade_values(submission_id, version, scored, view))
            session.add(grade)
            session.flush()
            record_grade(session, sub, grade, previous, overrides)
    except IntegrityError:
        return "already-graded"
    return "graded"


def record_grade(
    session: Session,
    sub: Submission,
    grade: Grade,
    previous: dict[str, Any] | None,
    overrides: dict[str, Override] | None = None,
) -> None:
    """What a new grade (flushed) does to its submission: status, the figures queues read,
    release settling, the audit event and, for a first grade, the event platforms hear.
    ``previous`` is the grade as it stood before; ``overrides`` (when the caller has read
    them) save the queries."""
    regrade = previous is not None
    if sub.status in (Status.QUEUED, Status.GRADING):
        sub.status = Status.GRADED
    sub.lease_until = None
    sub.deliveries = 0  # a finished grading; regrades count afresh
    current = effective_grade(session, sub, grade=grade, overrides=overrides if regrade else {})
    assert current is not None
    denormalize(sub, current)
    waits = settle_release(session, sub, current, overrides)
    audit(
        session,
        sub,
        "regraded" if regrade else "graded",
        before=summary(previous) if previous else None,
        after=summary(current) | ({"waits_for_release": True} if waits else {}),
        reason=f"rubric version {grade.rubric_version}"
        + ("; the released grade stands until this one is released" if waits else ""),
    )
    if not regrade:
        emit(session, "submission.graded", sub)


def summary(eff: dict[str, Any]) -> dict[str, Any]:
    return {
        "total": eff["total"],
        "rubric_version": eff["rubric_version"],
        "criteria": {c["id"]: c["points"] for c in eff["criteria"]},
    }


def latest_overrides(session: Session, submission_id: int) -> dict[str, Override]:
    rows = session.scalars(
        select(Override).where(Override.submission_id == submission_id).order_by(Override.id)
    ).all()
    return {o.criterion: o for o in rows}


def released_grade(
    session: Session, sub: Submission, overrides: dict[str, Override] | None = None
) -> dict[str, Any] | None:
    """The grade as its learner (and their platform) has it: once released, the grader
    output they were released, with the instructors' overrides as they stand. A regrade
    after the release (a new rubric or calibration) waits for an instructor to release it
    (``release_pending``); it never changes a released grade silently."""
    if sub.status == Status.RELEASED and sub.released_grade_id is not None:
        grade = session.get(Grade, sub.released_grade_id)
        if grade is not None:
            return effective_grade(session, sub, grade=grade, overrides=overrides)
    return effective_grade(session, sub, overrides=overrides)


def mark_released(sub: Submission, eff: dict[str, Any] | None) -> None:
    """Record that the learner now has ``eff`` (the grade as it stands)."""
    sub.released_grade_id = eff["grade_id"] if eff else None
    sub.released_total = eff["total"] if eff else None
    sub.released_max_total = eff["max_total"] if eff else None
    sub.release_pending = False


def settle_release(
    session: Session,
    sub: Submission,
    current: dict[str, Any],
    overrides: dict[str, Override] | None = None,
) -> bool:
    """After a released submission's grade changed (a regrade, an override): when nothing
    its learner reads differs (:func:`grade_json` as a learner gets it), the learner has the
    new grade; otherwise the released one stands and the new one waits for release.
    Returns whether one waits."""
    if sub.status != Status.RELEASED:
        return False
    held = released_grade(session, sub, overrides) if sub.released_grade_id is not None else None
    if held is None or _seen(held, sub) == _seen(current, sub):
        mark_released(sub, current)
        return False
    sub.release_pending = True
    sub.released_total = held["total"]
    sub.released_max_total = held["max_total"]
    return True


def _seen(eff: dict[str, Any], sub: Submission) -> dict[str, Any]:
    """Everything a learner reads of a grade (the API's and the pages' rule), but when."""
    seen = grade_json(eff, sub, staff=False)
    seen.pop("graded_at", None)
    return seen


def effective_grade(
    session: Session,
    sub: Submission,
    *,
    overrides: dict[str, Override] | None = None,
    grade: Grade | None = None,
) -> dict[str, Any] | None:
    """The grade as it stands: the latest grader output with instructors' overrides applied.

    ``grade`` and ``overrides`` save the queries when the caller already has them.
    """
    grade = grade or latest_grade(session, sub.id)
    if grade is None:
        return None
    overrides = latest_overrides(session, sub.id) if overrides is None else overrides
    criteria = []
    for c in grade.criteria:
        o = overrides.get(c["id"])
        points = min(o.points, c["max_points"]) if o is not None else c["points"]
        entry = {
            "id": c["id"],
            "name": c["name"],
            "points": points,
            "max_points": c["max_points"],
            "feedback": c["feedback"],
            "source": "override" if o is not None else "grader",
            "grader_points": c["points"],
            "evidence": c.get("evidence", []),
            "missing": c.get("missing", []),
        }
        if o is not None:
            entry["override"] = {
                "points": o.points,
                "reason": o.reason,
                "comment": o.comment,
                "by": o.instructor_id,
                "at": o.created_at.isoformat(),
            }
        criteria.append(entry)
    return {
        "total": round(sum(c["points"] for c in criteria), 2),
        "max_total": grade.max_total,
        "criteria": criteria,
        "confidence": grade.confidence,
        "flags": list(grade.flags),
        "review_reasons": list(grade.review_reasons or []),
        "rubric_version": grade.rubric_version,
        "graded_at": grade.created_at.isoformat(),
        "warnings": list(grade.warnings),
        "grade_id": grade.id,
        "interval": _interval(grade.interval, criteria),
        "calibration_version": grade.calibration_version,
    }


def _interval(
    stored: dict[str, Any] | None, criteria: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The grade's interval around the total as it stands: overridden criteria are the
    instructor's and carry no uncertainty, so the interval shrinks with their share."""
    if stored is None:
        return None
    stored = {k: v for k, v in stored.items() if k != "grader_confidence"}
    total = sum(c["points"] for c in criteria)
    top = sum(c["max_points"] for c in criteria) or 1.0
    open_share = sum(c["max_points"] for c in criteria if c["source"] == "grader") / top
    below = (sum(c["grader_points"] for c in criteria) - stored["low"]) * open_share
    above = (stored["high"] - sum(c["grader_points"] for c in criteria)) * open_share
    out = {
        **stored,
        "low": round(max(0.0, total - below), 1),
        "high": round(min(top, total + above), 1),
    }
    if "criteria" in stored:
        # An overridden criterion's points are the instructor's: no uncertainty left.
        out["criteria"] = {
            c["id"]: (
                stored["criteria"][c["id"]]
                if c["source"] == "grader"
                else {"low": c["points"], "high": c["points"]}
            )
            for c in criteria
            if c["id"] in stored["criteria"]
        }
    return out


#: What finishing a grade again reads of the previous one (grader.scoring.grade.finish_grade)
#: and keeps of it (its rendered answer): deferred columns, loaded with it.
WITH_MEASUREMENT = (
    undefer(Grade.measured),
    undefer(Grade.plan),
    undefer(Grade.answer_html),
    undefer(Grade.answer_anchors),
)


def finished_again(
    session: Session, submission_id: int, rubric: Rubric, *, view: bool = True
) -> tuple[ScoredGrade, Grade] | None:
    """The grade under ``rubric`` finished from what grading read of the answer last time
    (its latest grade's measurement), with that grade; None when ``rubric`` reads answers
    differently (another measurement key) or nothing was kept: grade the text again.
    Without ``view`` the previous grade's rendered answer is not read."""
    previous = session.scalar(
        select(Grade)
        .options(*(WITH_MEASUREMENT if view else WITH_MEASUREMENT[:2]))
        .where(Grade.submission_id == submission_id)
        .order_by(Grade.id.desc())
        .limit(1)
    )
    if previous is None or previous.measured is None:
        return None
    scored = finish_grade(previous.measured, rubric, previous.plan)
    return None if scored is None else (scored, previous)


def regrade_preview(session: Session, sub: Submission, rubric: Rubric) -> dict[str, Any] | None:
    """What regrading sub with rubric would change (overrides kept), or None if nothing."""
    before = effective_grade(session, sub)
    overrides = latest_overrides(session, sub.id)
    again = finished_again(session, sub.id, rubric, view=False)
    scored = again[0] if again is not None else grade_text(sub.content, rubric)
    after = {
        c.id: (min(overrides[c.id].points, c.max_points) if c.id in overrides else c.points)
        for c in scored.criteria
    }
    before_points = {c["id"]: c["points"] for c in before["criteria"]} if before else {}
    if before is not None and before_points == after:
        return None
    after_total = round(sum(after.values()), 2)
    before_total = before["total"] if before else None
    return {
        "id": sub.id,
        "learner": shown_learner(sub)["name"],  # blind review: as reviewers see them
        "status": sub.status.value,
        "before": before_total,
        "after": after_total,
        "delta": round(after_total - before_total, 2) if before_total is not None else None,
        "criteria": {
            cid: {"before": before_points.get(cid), "after": pts} for cid, pts in after.items()
        },
    }


def denormalize(sub: Submission, eff: dict[str, Any]) -> None:
    """Copy the effective grade's headline figures onto the submission for queue queries."""
    sub.total = eff["total"]
    sub.points = {c["id"]: c["points"] for c in eff["criteria"]}
    sub.max_total = eff["max_total"]
    sub.confidence = eff["confidence"]
    sub.flags_text = codes_text(eff["flags"])
    sub.review_codes = codes_text(r["code"] for r in eff["review_reasons"])
    interval = eff.get("interval")
    sub.interval_low = interval["low"] if interval else None
    sub.interval_high = interval["high"] if interval else None


def codes_text(codes: Iterable[str]) -> str:
    """Codes as one searchable column value: ",a,b," (SQL finds ",a," in it)."""
    return "".join(f",{c}" for c in codes) + ","


#: What a learner reads for a criterion an instructor overrode without a comment.
OVERRIDDEN_FEEDBACK = "Your instructor reviewed this criterion and set its points."


def learner_feedback(criterion: dict[str, Any]) -> str:
    """What a learner (or their platform) reads for a criterion of an effective grade: the
    automatic feedback may contradict an instructor's points, so an overridden criterion
    shows the instructor's comment instead (or a neutral line without one)."""
    if "override" in criterion:
        return str(criterion["override"].get("comment") or OVERRIDDEN_FEEDBACK)
    return str(criterion["feedback"])


def grade_json(eff: dict[str, Any], sub: Submission, *, staff: bool) -> dict[str, Any]:
    """The grade payload. Learners never see the answer key (missing concepts), unless the
    rubric reveals it in the feedback itself."""
    criteria = []
    for c in eff["criteria"]:
        entry = {k: c[k] for k in ("id", "name", "points", "max_points", "feedback", "source")}
        entry["evidence"] = c["evidence"]
        if "override" in c and not staff:
            entry["feedback"] = learner_feedback(c)
            entry["evidence"] = []
        if staff:
            entry["grader_points"] = c["grader_points"]
            entry["missing"] = c["missing"]
            if "override" in c:
                entry["override"] = c["override"]
        criteria.append(entry)
    out = {
        k: eff[k]
        for k in ("total", "max_total", "confidence", "flags", "rubric_version", "graded_at")
    }
    out["criteria"] = criteria
    out["source"] = "override" if any(c["source"] == "override" for c in criteria) else "grader"
    out["interval"] = eff.get("interval")
    if eff.get("calibration_version"):
        out["calibration_version"] = eff["calibration_version"]
    if staff:
        out["warnings"] = eff["warnings"]
        out["review_reasons"] = eff.get("review_reasons", [])
    return out
