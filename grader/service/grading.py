"""Submission lifecycle: submit, grade (idempotently), override, release, regrade.

Functions here take a Session and never commit on behalf of a web request unless their
docstring says so; the grading task commits in steps so that a crash leaves a trace
(the delivery count) and a redelivery never writes a second grade.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.scoring import Grade as ScoredGrade
from grader.scoring import Rubric, RubricError, grade_text, load_rubric, rubric_from_dict

from .errors import APIError
from .models import (
    Assignment,
    AuditEvent,
    Grade,
    Override,
    RubricVersion,
    Status,
    Submission,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

# Called as hook(session, event_type, submission) after a state change is flushed, inside the
# same transaction (webhooks use it to record outbound events atomically with the change).
# Only submissions that came from a course platform raise events.
EventHook = Callable[[Session, str, Submission], None]
_event_hooks: list[EventHook] = []


def on_event(hook: EventHook) -> EventHook:
    if hook not in _event_hooks:
        _event_hooks.append(hook)
    return hook


def emit(session: Session, event_type: str, submission: Submission) -> None:
    # Events exist for course platforms, so only their submissions raise them (which lets the
    # common grading path skip loading the submission at all).
    if submission.platform_id is None:
        return
    if session.get_bind().dialect.name == "postgresql":
        # The worker commits asynchronously (WORKER_ASYNC_COMMIT), but an event may be sent
        # to a platform as soon as it is visible: it must be on disk first, or a crash could
        # lose it after sending and the redone work would send a second, different event.
        session.execute(text("SET LOCAL synchronous_commit = on"))
    for hook in _event_hooks:
        hook(session, event_type, submission)


def audit(
    session: Session,
    submission: Submission,
    action: str,
    *,
    actor: User | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    session.add(
        AuditEvent(
            submission_id=submission.id,
            actor_id=actor.id if actor else None,
            action=action,
            before=before,
            after=after,
            reason=reason,
        )
    )


# --- rubrics ------------------------------------------------------------------------------

_RUBRIC_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
# A file name, not a path: file systems refuse names past 255 bytes (ENAMETOOLONG).
_RUBRIC_NAME_MAX = 100


def rubric_path(rubrics_dir: str, name: str) -> Path:
    """A rubric file inside rubrics_dir; anything that could escape it is refused."""
    if (
        not name.endswith(".toml")
        or len(name) > _RUBRIC_NAME_MAX
        or not set(name) <= _RUBRIC_NAME_CHARS
        or name.startswith(".")
        or "/" in name
    ):
        raise APIError(
            422,
            "invalid_rubric",
            "rubric must be a file name like 'ml-health-check.toml' from the rubrics folder",
            field="rubric",
        )
    path = Path(rubrics_dir) / name
    if not path.is_file():
        raise APIError(422, "invalid_rubric", f"no rubric file named {name!r}", field="rubric")
    return path


def read_rubric(path: Path) -> Rubric:
    try:
        return load_rubric(path)
    except RubricError as exc:
        raise APIError(
            422, "invalid_rubric", f"the rubric is invalid: {exc}", field="rubric"
        ) from exc


def store_rubric(session: Session, path: Path) -> RubricVersion:
    """Validate a rubric file and keep its content under its version."""
    rubric = read_rubric(path)
    row = session.get(RubricVersion, rubric.version)
    if row is None:
        row = RubricVersion(
            version=rubric.version, rubric_id=rubric.id, source=path.read_text(encoding="utf-8")
        )
        session.add(row)
        session.flush()
    return row


_RUBRIC_CACHE: dict[str, Rubric] = {}


def rubric_for(version: RubricVersion) -> Rubric:
    """The Rubric a stored version describes (parsed once per process)."""
    rubric = _RUBRIC_CACHE.get(version.version)
    if rubric is None:
        rubric = rubric_from_dict(tomllib.loads(version.source), source=version.rubric_id)
        _RUBRIC_CACHE[version.version] = rubric
    return rubric


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


# --- grades ----------------------------------------------------------------------------------


def _latest_grade(session: Session, submission_id: int) -> Grade | None:
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
            previous = effective_grade(session, sub)
            grade = Grade(**grade_values(submission_id, version, scored, view))
            session.add(grade)
            session.flush()
            regrade = previous is not None
            if sub.status in (Status.QUEUED, Status.GRADING):
                sub.status = Status.GRADED
            sub.lease_until = None
            sub.deliveries = 0  # a finished grading; regrades count afresh
            current = effective_grade(session, sub, grade=grade, overrides=None if regrade else {})
            assert current is not None
            denormalize(sub, current)
            audit(
                session,
                sub,
                "regraded" if regrade else "graded",
                before=_summary(previous) if previous else None,
                after=_summary(current),
                reason=f"rubric version {version}",
            )
            if not regrade:
                emit(session, "submission.graded", sub)
    except IntegrityError:
        return "already-graded"
    return "graded"


def _summary(eff: dict[str, Any]) -> dict[str, Any]:
    return {
        "total": eff["total"],
        "rubric_version": eff["rubric_version"],
        "criteria": {c["id"]: c["points"] for c in eff["criteria"]},
    }


# --- reading grades -------------------------------------------------------------------------


def latest_overrides(session: Session, submission_id: int) -> dict[str, Override]:
    rows = session.scalars(
        select(Override).where(Override.submission_id == submission_id).order_by(Override.id)
    ).all()
    return {o.criterion: o for o in rows}


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
    grade = grade or _latest_grade(session, sub.id)
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
    }


def regrade_preview(session: Session, sub: Submission, rubric: Rubric) -> dict[str, Any] | None:
    """What regrading sub with rubric would change (overrides kept), or None if nothing."""
    before = effective_grade(session, sub)
    overrides = latest_overrides(session, sub.id)
    scored = grade_text(sub.content, rubric)
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
        "learner": sub.learner.name,
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
    sub.max_total = eff["max_total"]
    sub.confidence = eff["confidence"]
    sub.flags_text = codes_text(eff["flags"])
    sub.review_codes = codes_text(r["code"] for r in eff["review_reasons"])


def codes_text(codes: Iterable[str]) -> str:
    """Codes as one searchable column value: ",a,b," (SQL finds ",a," in it)."""
    return "".join(f",{c}" for c in codes) + ","


def override(
    session: Session, sub: Submission, instructor: User, criterion: str, points: float, reason: str
) -> dict[str, Any]:
    """Set an instructor's points for one criterion, with the reason, in the audit trail."""
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
            instructor_id=instructor.id,
        )
    )
    sub.reviewed = True
    session.flush()
    after = effective_grade(session, sub)
    assert after is not None
    denormalize(sub, after)
    audit(
        session,
        sub,
        "override",
        actor=instructor,
        before=_summary(before),
        after=_summary(after),
        reason=reason,
    )
    return after


def claimed_by_other(sub: Submission, user: User) -> bool:
    """Whether another instructor's claim on sub is still live (then only they may act)."""
    return (
        sub.claimed_by_id not in (None, user.id)
        and sub.claim_expires_at is not None
        and sub.claim_expires_at > utcnow()
    )


def ensure_not_claimed_by_other(sub: Submission, user: User, message: str = "") -> None:
    if claimed_by_other(sub, user):
        assert sub.claim_expires_at is not None
        raise APIError(
            409,
            "claimed",
            message
            or "another instructor has claimed this "
            f"submission until {sub.claim_expires_at.isoformat()}",
        )


def release(session: Session, sub: Submission, actor: User) -> bool:
    """Release a graded submission to its learner. Returns False if it was already released.

    Another instructor's live claim holds it (409 ``claimed``), on every entry point."""
    if sub.status == Status.RELEASED:
        return False
    if claimed_by_other(sub, actor):
        holder = session.get(User, sub.claimed_by_id)
        name = holder.name if holder else "another instructor"
        until = f"{sub.claim_expires_at:%H:%M} UTC" if sub.claim_expires_at else "later"
        ensure_not_claimed_by_other(sub, actor, f"{name} has claimed this submission until {until}")
    if sub.status != Status.GRADED:
        raise APIError(
            409,
            "not_releasable",
            f"only graded submissions can be released (this one is {sub.status})",
        )
    sub.status = Status.RELEASED
    sub.released_at = utcnow()
    eff = effective_grade(session, sub)
    audit(session, sub, "released", actor=actor, after=_summary(eff) if eff else None)
    emit(session, "grade.released", sub)
    return True


def release_many(
    session: Session, subs: Iterable[Submission], actor: User
) -> tuple[list[int], list[int]]:
    """Release each graded submission; those another instructor has claimed are held back.
    Returns (released ids, held ids)."""
    released: list[int] = []
    held: list[int] = []
    for sub in subs:
        if claimed_by_other(sub, actor):
            held.append(sub.id)
        elif release(session, sub, actor):
            released.append(sub.id)
    return released, held


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


def stuck_submissions(session: Session, *, stuck_after: int, limit: int = 500) -> list[int]:
    """Ids that need (re-)enqueuing: queued or grading with no progress, or current grades
    missing for their assignment's rubric version (a lost regrade)."""
    now = utcnow()
    idle = now - timedelta(seconds=stuck_after)
    stale = (
        select(Submission.id)
        .where(
            ((Submission.status == Status.QUEUED) & (Submission.updated_at < idle))
            # Its task never reached the broker: send it now.
            | Submission.unsent.is_(True)
            # A grading's lease is renewed while it runs (grader.service.leases): once it
            # has run out, the process grading it is gone.
            | (
                (Submission.status == Status.GRADING)
                & ((Submission.lease_until.is_(None)) | (Submission.lease_until < now))
            )
        )
        .order_by(Submission.id)
        .limit(limit)
    )
    ids = list(session.scalars(stale))
    missing = (
        select(Submission.id)
        .join(Assignment)
        .where(
            Submission.current.is_(True),
            Submission.status.in_([Status.GRADED, Status.RELEASED]),
            Submission.updated_at < idle,
            ~select(Grade.id)
            .where(
                Grade.submission_id == Submission.id,
                Grade.rubric_version == Assignment.rubric_version,
            )
            .exists(),
        )
        .order_by(Submission.id)
        .limit(limit)
    )
    ids.extend(i for i in session.scalars(missing) if i not in ids)
    if ids:
        # Touch them so the next sweep waits STUCK_AFTER before trying again (a grading's
        # lease too: its new delivery may wait behind a backlog, and its claim renews it).
        session.execute(update(Submission).where(Submission.id.in_(ids)).values(updated_at=now))
        session.execute(
            update(Submission)
            .where(Submission.id.in_(ids), Submission.status == Status.GRADING)
            .values(lease_until=now + timedelta(seconds=stuck_after))
        )
    return ids
