"""Instructors' review: overrides, claims (a live claim holds a submission for its holder on
every entry point) and retrying a failed grading."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import AuditEvent, Grade, Override, Status, Submission, User, utcnow
from .events import GRADE_RELEASED, audit, emit
from .grades import denormalize, effective_grade, settle_release, summary
from .rubrics import rubric_for

#: The longest reason, comment, message or reply anyone writes.
MAX_REASON = 5000


def written(value: str | None, field: str, missing: str | None) -> str | None:
    """What someone wrote in ``field``, stripped; None when blank and optional (``missing``
    None), else a 422 ``<field>_required`` saying ``missing``; past MAX_REASON a 422
    ``<field>_too_long``. The one rule for every free-text field."""
    text = (value or "").strip()
    if "\x00" in text:
        raise APIError(
            422, f"invalid_{field}", f"the {field} contains a NUL character", field=field
        )
    if not text:
        if missing is None:
            return None
        raise APIError(422, f"{field}_required", missing, field=field)
    if len(text) > MAX_REASON:
        raise APIError(
            422,
            f"{field}_too_long",
            f"the {field} is limited to {MAX_REASON} characters",
            field=field,
        )
    return text


def override(
    session: Session,
    sub: Submission,
    instructor: User,
    criterion: str,
    points: float,
    reason: str,
    comment: str | None = None,
) -> dict[str, Any]:
    """Set an instructor's points for one criterion, with the reason (the audit trail's) and
    an optional comment (the learner's: it replaces the automatic feedback, which the new
    points may contradict)."""
    comment = written(comment, "comment", None)
    reason = str(
        written(
            reason, "reason", "give a reason: the learner's grade history records why it changed"
        )
    )
    ensure_unclaimed(session, sub, instructor)
    before = effective_grade(session, sub)
    if before is None:
        raise APIError(409, "not_graded", "the submission has no grade to override yet")
    crit = next((c for c in before["criteria"] if c["id"] == criterion), None)
    if crit is None:
        ids = ", ".join(c["id"] for c in before["criteria"])
        raise APIError(
            422,
            "invalid_criterion",
            f"unknown criterion {criterion!r}; use one of {ids}",
            field="criterion",
        )
    if not 0 <= points <= crit["max_points"]:
        raise APIError(
            422,
            "invalid_points",
            f"points must be between 0 and {crit['max_points']:g} for {criterion}",
            field="points",
        )
    session.add(
        Override(
            submission_id=sub.id,
            criterion=criterion,
            points=points,
            reason=reason,
            comment=comment,
            instructor_id=instructor.id,
        )
    )
    sub.reviewed = True
    session.flush()
    after = effective_grade(session, sub)
    assert after is not None
    denormalize(sub, after)
    settle_release(session, sub, after)  # an instructor's points reach the learner at once
    if sub.status == Status.RELEASED:
        emit(session, GRADE_RELEASED, sub)  # and their course platform
    audit(
        session,
        sub,
        "override",
        actor=instructor,
        before=summary(before),
        after=summary(after),
        reason=reason,
    )
    return after


def comment(session: Session, sub: Submission, instructor: User, text: str | None) -> None:
    """Set (or, with nothing, clear) the instructor's general comment on the answer, which
    the learner reads with the released grade; the history keeps each version."""
    ensure_unclaimed(session, sub, instructor)
    new = written(text, "comment", None)
    if new == sub.comment:
        return
    audit(
        session,
        sub,
        "commented",
        actor=instructor,
        before={"comment": sub.comment} if sub.comment else None,
        after={"comment": new} if new else None,
    )
    sub.comment = new


def claimed_by_other(sub: Submission, user: User) -> bool:
    """Whether another instructor's claim on sub is still live (then only they may act)."""
    return (
        sub.claimed_by_id not in (None, user.id)
        and sub.claim_expires_at is not None
        and sub.claim_expires_at > utcnow()
    )


def ensure_unclaimed(session: Session, sub: Submission, user: User, message: str = "") -> None:
    """409 ``claimed``, naming the holder, while another instructor's claim on sub is live:
    the one rule every action on a submission (override, release, claim) goes through."""
    if claimed_by_other(sub, user):
        holder = session.get(User, sub.claimed_by_id)
        name = holder.name if holder else "another instructor"
        until = f"{sub.claim_expires_at:%H:%M} UTC" if sub.claim_expires_at else "later"
        raise APIError(
            409, "claimed", message or f"{name} has claimed this submission until {until}"
        )


def confirm(session: Session, sub: Submission, instructor: User) -> dict[str, Any]:
    """Record that an instructor checked the grade and kept it: the submission counts as
    reviewed, and its points per criterion become a label for calibrating the assignment
    (grader.service.operations.calibrations), with who and when in the audit trail."""
    if sub.status not in (Status.GRADED, Status.RELEASED):
        raise APIError(409, "not_graded", "only a graded submission can be confirmed")
    ensure_unclaimed(session, sub, instructor)
    eff = effective_grade(session, sub)
    if eff is None:
        raise APIError(409, "not_graded", "this submission has no grade to confirm")
    sub.reviewed = True
    audit(
        session,
        sub,
        "confirmed",
        actor=instructor,
        after={
            "grade_id": eff["grade_id"],
            "total": eff["total"],
            "criteria": {c["id"]: c["points"] for c in eff["criteria"]},
        },
        reason="grade checked and kept",
    )
    return eff


def grade_by_hand(
    session: Session,
    sub: Submission,
    instructor: User,
    points: Mapping[str, float],
    reason: str,
    comment: str | None = None,
) -> dict[str, Any]:
    """Grade a failed submission by hand: every criterion's points, with the reason in the
    audit trail. The points are kept as overrides too, so a later regrade keeps them."""
    if sub.status != Status.FAILED:
        raise APIError(
            409, "not_failed", "only a failed submission is graded by hand; override a grade"
        )
    reason = str(written(reason, "reason", "give a reason for the history"))
    comment = written(comment, "comment", None)
    ensure_unclaimed(session, sub, instructor)
    a = sub.assignment
    rubric = rubric_for(a.rubric)
    criteria: list[dict[str, Any]] = []
    for c in rubric.criteria:
        value = points.get(c.id)
        if value is None or not 0 <= value <= c.points:
            raise APIError(
                422,
                "invalid_points",
                f"give {c.id} points between 0 and {c.points:g}",
                field="points",
            )
        criteria.append(
            {
                "id": c.id,
                "name": c.name,
                "points": float(value),
                "max_points": float(c.points),
                "feedback": comment or "Graded by your instructor.",
                "evidence": [],
                "missing": [],
                "signals": {},
            }
        )
    unknown = sorted(set(points) - {c.id for c in rubric.criteria})
    if unknown:
        raise APIError(
            422, "invalid_criterion", f"unknown criterion {unknown[0]!r}", field="points"
        )
    grade = Grade(
        submission_id=sub.id,
        rubric_version=a.rubric_version,
        calibration_version=a.calibration_version or "",
        total=round(sum(float(e["points"]) for e in criteria), 2),
        max_total=float(rubric.max_total),
        confidence=1.0,
        flags=[],
        review_reasons=[],
        criteria=criteria,
        warnings=[],
        plan={},
    )
    taken = session.scalar(
        select(Grade.id).where(
            Grade.submission_id == sub.id,
            Grade.rubric_version == grade.rubric_version,
            Grade.calibration_version == grade.calibration_version,
        )
    )
    if taken is not None:  # a grade for these versions exists: override it instead
        raise APIError(409, "graded", "this submission already has a grade; override it")
    session.add(grade)
    for entry in criteria:
        session.add(
            Override(
                submission_id=sub.id,
                criterion=entry["id"],
                points=entry["points"],
                reason=reason,
                comment=comment,
                instructor_id=instructor.id,
            )
        )
    failure = sub.failure_reason
    sub.status = Status.GRADED
    sub.failure_reason = None
    sub.lease_until = None
    sub.reviewed = True
    session.flush()
    eff = effective_grade(session, sub, grade=grade)
    assert eff is not None
    denormalize(sub, eff)
    audit(
        session,
        sub,
        "graded_by_hand",
        actor=instructor,
        before={"failure_reason": failure},
        after=summary(eff),
        reason=reason,
    )
    emit(session, "submission.graded", sub)
    return eff


def retry(session: Session, sub: Submission, actor: User) -> None:
    """Put a failed submission back in the queue (an instructor's decision)."""
    if sub.status != Status.FAILED:
        raise APIError(409, "not_failed", "only failed submissions can be retried")
    reason = sub.failure_reason
    sub.status = Status.QUEUED
    sub.failure_reason = None
    sub.deliveries = 0
    sub.lease_until = None
    audit(session, sub, "retried", actor=actor, before={"failure_reason": reason})


def claim_submission(session: Session, sub: Submission, user: User, seconds: int) -> None:
    """Hold sub for user for seconds; 409 while another instructor's claim is live."""
    now = utcnow()
    ensure_unclaimed(session, sub, user)
    sub.claimed_by_id = user.id
    sub.claim_expires_at = now + timedelta(seconds=seconds)
    session.add(
        AuditEvent(
            submission_id=sub.id,
            actor_id=user.id,
            action="claimed",
            after={"until": sub.claim_expires_at.isoformat()},
        )
    )


def drop_claim(session: Session, sub: Submission, user: User) -> None:
    """Drop a claim; only its holder may (or anyone once it has run out)."""
    ensure_unclaimed(session, sub, user, "only the instructor holding the claim can drop it")
    sub.claimed_by_id = None
    sub.claim_expires_at = None
