"""Outbound events: an outbox row per event, written atomically with the state change.

``record_event`` is registered with ``events.on_event``: it runs inside the transaction that
graded, released or failed a submission and adds a Delivery row when the submission came
from a platform that wants that event. After the transaction commits, a listener sends one
delivery task per new row; if that send is lost, the periodic sweep finds the row anyway.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..contracts.responses import Event
from ..models import Platform, Submission, User, utcnow
from ..operations.events import (
    EVENT_TYPES,
    GRADE_RELEASED,
    REGRADE_ANSWERED,
    REGRADE_REQUESTED,
    SUBMISSION_FAILED,
)
from .models import Delivery, DeliveryStatus

log = logging.getLogger(__name__)


_NEW_DELIVERIES = "grader.webhooks.new_deliveries"


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def event_data(session: Session, event_type: str, sub: Submission) -> dict[str, Any]:
    """What the platform learns. Never the instructor-only parts of a grade (missing
    concepts, grader points under an override, warnings), and a grade only on release."""
    learner = session.get(User, sub.learner_id)
    data: dict[str, Any] = {
        "submission_id": sub.id,
        "assignment": sub.assignment.slug,
        "learner_id": learner.external_id if learner is not None else None,
        "version": sub.version,
        "status": sub.status.value,
        "metadata": sub.metadata_,
    }
    if event_type == GRADE_RELEASED:
        from ..operations.grades import learner_feedback, released_grade

        eff = released_grade(session, sub)
        if eff is not None:
            data["grade"] = {
                "total": eff["total"],
                "max_total": eff["max_total"],
                "rubric_version": eff["rubric_version"],
                "released_at": sub.released_at.isoformat() if sub.released_at else None,
                "criteria": [
                    {k: c[k] for k in ("id", "name", "points", "max_points")}
                    | {"feedback": learner_feedback(c)}
                    for c in eff["criteria"]
                ],
            }
    elif event_type in (REGRADE_REQUESTED, REGRADE_ANSWERED):
        from ..operations.regrade_requests import latest

        req = latest(session, sub.id, answered=event_type == REGRADE_ANSWERED)
        if req is not None:
            data["regrade_request"] = {
                "id": req.id,
                "criterion": req.criterion,
                "message": req.message,
                "outcome": req.outcome,
                "reply": req.reply,
            }
    elif event_type == SUBMISSION_FAILED:
        # The internal reason (an exception, a crashed worker) stays with the instructors.
        data["reason"] = "grading could not finish; an instructor will look at it"
    return data


def record_event(session: Session, event_type: str, sub: Submission) -> None:
    """events.on_event hook: queue the event for the submission's platform, if it wants it."""
    if sub.platform_id is None or event_type not in EVENT_TYPES:
        return
    platform = session.get(Platform, sub.platform_id)
    if platform is None or not platform.events_url or event_type not in (platform.events or []):
        return
    now = utcnow()
    # What the contract's Event model declares, and nothing else.
    payload = Event.model_validate(
        {
            "type": event_type,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": event_data(session, event_type, sub),
        }
    ).model_dump(mode="json", exclude_unset=True)
    delivery = Delivery(
        platform_id=platform.id,
        webhook_id=new_webhook_id(),
        event_type=event_type,
        submission_id=sub.id,
        body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    session.info.setdefault(_NEW_DELIVERIES, []).append(delivery.id)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the rows are not committed yet
        return
    ids: list[int] = session.info.pop(_NEW_DELIVERIES, None) or []
    if ids:
        from .tasks import enqueue_delivery

        for delivery_id in ids:
            enqueue_delivery(delivery_id)


def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_NEW_DELIVERIES, None)


def install() -> None:
    """Register the grading hook and the session listeners (idempotent)."""
    from ..operations.events import on_event

    on_event(record_event)
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
