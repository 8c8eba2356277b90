"""Scores for the LMS gradebook (AGS), queued in the transaction that changed the grade.

An answer's arrival queues ``Submitted``/``PendingManual`` (no score), a release (or an
override after one) ``Completed``/``FullyGraded`` with the released score and the
learner-visible comment, a withdrawn grade ``PendingManual`` again. Each score's
timestamp is later than the last one queued for that learner and line item (Moodle
refuses an equal or earlier one), and carries Canvas's submission extension, with
``new_submission`` true only when an answer arrives, so re-posts don't count as attempts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ..models import Submission, utcnow
from ..operations.events import GRADE_RELEASED, GRADE_UNRELEASED
from .models import LtiLearner, LtiLink, ScorePost, ScoreStatus

CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"
COMMENT_LIMIT = 4000
_NEW_SCORES = "grader.lti.new_scores"


def rfc3339(when: datetime) -> str:
    """UTC with milliseconds, as AGS wants: 2026-12-02T06:30:00.123Z."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _next_timestamp(learner: LtiLearner) -> datetime:
    clock = utcnow()
    now = clock.replace(microsecond=clock.microsecond // 1000 * 1000)
    last = learner.last_timestamp
    if last is not None:
        last = last if last.tzinfo else last.replace(tzinfo=UTC)
        if now <= last:
            now = last + timedelta(milliseconds=1)
    learner.last_timestamp = now
    return now


def _comment(grade: dict[str, Any]) -> str:
    from ..operations.grades import learner_feedback

    lines = [
        f"{c['name']}: {c['points']:g}/{c['max_points']:g}. {learner_feedback(c)}".strip()
        for c in grade["criteria"]
    ]
    text = "\n".join(lines)
    return text if len(text) <= COMMENT_LIMIT else text[: COMMENT_LIMIT - 1] + "…"


def score_body(
    kind: str, sub: Submission, sub_claim: str, when: datetime, grade: dict[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"userId": sub_claim, "timestamp": rfc3339(when)}
    if kind == "released" and grade is not None:
        body |= {
            "scoreGiven": round(float(grade["total"]), 4),
            "scoreMaximum": float(grade["max_total"]),
            "comment": _comment(grade),
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
        }
    else:
        body |= {"activityProgress": "Submitted", "gradingProgress": "PendingManual"}
    body[CANVAS_SUBMISSION] = {
        "new_submission": kind == "received",
        "submitted_at": rfc3339(sub.created_at),
    }
    return body


def _learners(
    session: Session, user_id: int, assignment_id: int, *, lock: bool = False
) -> list[LtiLearner]:
    """Where this learner's scores for the assignment go. With ``lock``, the rows are held
    until the transaction ends (PostgreSQL; SQLite writes one at a time anyway), so two
    transactions queueing scores for one learner cannot take the same timestamp."""
    query = (
        select(LtiLearner)
        .where(LtiLearner.user_id == user_id, LtiLearner.assignment_id == assignment_id)
        .order_by(LtiLearner.id)  # one lock order everywhere: no deadlock between two
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(session.scalars(query))


def _queue(session: Session, kind: str, sub: Submission) -> None:
    from ..operations.grades import released_grade
    from ..operations.rubrics import rubric_for

    learners = _learners(session, sub.learner_id, sub.assignment_id, lock=True)
    if not learners:
        return
    grade = released_grade(session, sub) if kind == "released" else None
    if kind == "released" and grade is None:
        return
    maximum = rubric_for(sub.assignment.rubric).max_total
    for learner in learners:
        link = session.get(LtiLink, learner.link_id)
        if link is None or link.assignment_id != sub.assignment_id:
            continue
        when = _next_timestamp(learner)
        post = ScorePost(
            learner_id=learner.id,
            submission_id=sub.id,
            kind=kind,
            body={
                "score": score_body(kind, sub, learner.sub, when, grade),
                "line_item": {
                    "label": (link.title or sub.assignment.title)[:255],
                    "scoreMaximum": float(maximum),
                    "resourceLinkId": link.resource_link_id,
                    "tag": "grader",
                },
            },
            status=ScoreStatus.PENDING,
            next_attempt_at=utcnow(),
        )
        session.add(post)
        session.flush()
        session.info.setdefault(_NEW_SCORES, []).append(post.id)


def on_received(session: Session, submission_id: int, assignment_id: int, learner_id: int) -> None:
    """operations.events received hook: an answer arrived (one indexed read if no LTI)."""
    if _learners(session, learner_id, assignment_id):
        sub = session.get(Submission, submission_id)
        if sub is not None:
            _queue(session, "received", sub)


def on_event(session: Session, event_type: str, sub: Submission) -> None:
    """operations.events hook: a release, a re-release (override after release), a
    withdrawal."""
    if event_type == GRADE_RELEASED:
        _queue(session, "released", sub)
    elif event_type == GRADE_UNRELEASED:
        _queue(session, "withdrawn", sub)


def gradebook_sync(session: Session, assignment_id: int) -> dict[str, Any] | None:
    """What the dashboard says of the scores sent to LMS gradebooks: counts by status and
    the latest refusal (None when no learner came through LTI)."""
    by_status = dict(
        session.execute(
            select(ScorePost.status, func.count())
            .join(LtiLearner, LtiLearner.id == ScorePost.learner_id)
            .where(LtiLearner.assignment_id == assignment_id)
            .group_by(ScorePost.status)
        ).all()
    )
    if not by_status:
        return None
    refused = session.scalar(
        select(ScorePost)
        .join(LtiLearner, LtiLearner.id == ScorePost.learner_id)
        .where(LtiLearner.assignment_id == assignment_id, ScorePost.status == ScoreStatus.FAILED)
        .order_by(ScorePost.id.desc())
        .limit(1)
    )
    return {
        "counts": {s.value: int(by_status.get(s, 0)) for s in ScoreStatus},
        "refused": refused,
    }


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    ids: list[int] = session.info.pop(_NEW_SCORES, None) or []
    if ids:
        from .tasks import enqueue_score

        for score_id in ids:
            enqueue_score(score_id)


def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_NEW_SCORES, None)


def install() -> None:
    """Register the hooks and the session listeners (idempotent)."""
    from ..operations.events import on_event as hook_event
    from ..operations.events import on_received as hook_received

    hook_event(on_event, platform_only=False, events=(GRADE_RELEASED, GRADE_UNRELEASED))
    hook_received(on_received)
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
