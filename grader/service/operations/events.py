"""Audit events (every state change, with who and why) and platform events (the hooks course
platforms' webhooks register to hear of a submission's grading and release)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
# A platform-only hook hears only of submissions that came from a course platform; others
# (LTI, whose learners submit through the pages) name the events they want.
EventHook = Callable[[Session, str, Submission], None]
# Called as hook(session, submission_id, assignment_id, learner_id) when an answer is stored.
ReceivedHook = Callable[[Session, int, int, int], None]


@dataclass(frozen=True)
class _Hook:
    hook: EventHook
    platform_only: bool
    events: frozenset[str] | None


_event_hooks: list[_Hook] = []
_received_hooks: list[ReceivedHook] = []


def on_event(
    hook: EventHook, *, platform_only: bool = True, events: tuple[str, ...] | None = None
) -> EventHook:
    if all(h.hook is not hook for h in _event_hooks):
        wanted = frozenset(events) if events is not None else None
        _event_hooks.append(_Hook(hook, platform_only, wanted))
    return hook


def on_received(hook: ReceivedHook) -> ReceivedHook:
    if hook not in _received_hooks:
        _received_hooks.append(hook)
    return hook


def emit(session: Session, event_type: str, submission: Submission) -> None:
    # Events exist for course platforms (webhooks, LTI), so most grading raises none, which
    # lets the common grading path skip loading the submission at all.
    hooks = [
        h.hook
        for h in _event_hooks
        if (submission.platform_id is not None or not h.platform_only)
        and (h.events is None or event_type in h.events)
    ]
    if not hooks:
        return
    if session.get_bind().dialect.name == "postgresql":
        # The worker commits asynchronously (WORKER_ASYNC_COMMIT), but an event may be sent
        # to a platform as soon as it is visible: it must be on disk first, or a crash could
        # lose it after sending and the redone work would send a second, different event.
        session.execute(text("SET LOCAL synchronous_commit = on"))
    for hook in hooks:
        hook(session, event_type, submission)


def received(session: Session, submission_id: int, assignment_id: int, learner_id: int) -> None:
    """An answer was stored (inside its transaction): tell the hooks that want to know."""
    for hook in _received_hooks:
        hook(session, submission_id, assignment_id, learner_id)


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
