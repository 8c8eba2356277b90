"""Audit events (every state change, with who and why) and platform events (the hooks course
platforms' webhooks register to hear of a submission's grading and release)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..models import (
    AuditEvent,
    Submission,
    User,
)

#: The events a course platform can hear of (grader.service.webhooks delivers them).
SUBMISSION_GRADED = "submission.graded"
GRADE_RELEASED = "grade.released"
SUBMISSION_FAILED = "submission.failed"
REGRADE_REQUESTED = "regrade.requested"
REGRADE_ANSWERED = "regrade.answered"
GRADE_UNRELEASED = "grade.unreleased"
EVENT_TYPES = (
    SUBMISSION_GRADED,
    GRADE_RELEASED,
    GRADE_UNRELEASED,
    SUBMISSION_FAILED,
    REGRADE_REQUESTED,
    REGRADE_ANSWERED,
)

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
