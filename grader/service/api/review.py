"""The review queue: what instructors look at, filter, claim and work through."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from ..auth import STAFF, current_user, load_submission, require
from ..contracts import STAFF_ONLY, operation, parse_query
from ..contracts import responses as out
from ..contracts.queries import QueueQuery
from ..db import get_db
from ..operations import queue as review_queue
from ..operations import reviews
from ..operations.assignments import shown_learner
from .params import page_size
from .submissions import submission_json

bp = Blueprint("review", __name__)


@bp.get("/review-queue")
@operation(
    "reviewQueue",
    "Current submissions to review, least confident first",
    "review",
    {200: out.QueuePage},
    errors=(400, 401, 403, 422),
    query=QueueQuery,
    description=STAFF_ONLY,
)
@require(*STAFF)
def queue() -> dict[str, Any]:
    """Current submissions, least confident first by default, filtered and paginated: by
    ``page`` (offset), or by ``cursor`` (the previous page's ``next_cursor``), which stays
    fast however deep the page."""
    session = get_db().session
    args = parse_query(QueueQuery, request.args)
    query, sort = review_queue.queue_query(args, current_user().id)
    page, per_page = args.page, page_size(args)
    total, capped = review_queue.queue_count(session, query)
    cursor = args.cursor
    if cursor:  # a keyset page: as fast at the end of the queue as at its start
        rows = review_queue.queue_page(session, query, sort, cursor, per_page + 1)
    else:
        rows = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    items = []
    for sub in rows:
        items.append(
            {
                "id": sub.id,
                "assignment": sub.assignment.slug,
                "learner": shown_learner(sub),
                "version": sub.version,
                "status": sub.status.value,
                "total": sub.total,
                "max_total": sub.max_total,
                "confidence": sub.confidence,
                "flags": review_queue.queue_flags(sub),
                "review_reasons": [c for c in (sub.review_codes or ",").split(",") if c],
                "interval": {"low": sub.interval_low, "high": sub.interval_high}
                if sub.interval_low is not None
                else None,
                "reviewed": sub.reviewed,
                "reviewer": sub.reviewer_id,
                "open_requests": sub.open_requests,
                "claimed_by": sub.claimed_by_id,
                "claim_expires_at": sub.claim_expires_at.isoformat()
                if sub.claim_expires_at
                else None,
                "created_at": sub.created_at.isoformat(),
            }
        )
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "total_capped": capped,
        "sort": sort,
        "pages": (total + per_page - 1) // per_page if total else 0,
        "next_cursor": review_queue.queue_cursor(rows[-1], sort) if more else None,
    }


@bp.post("/submissions/<int:submission_id>/claim")
@operation(
    "claim",
    "Claim for review (CLAIM_SECONDS)",
    "review",
    {200: out.Submission},
    errors=(401, 403, 404, 409),
    description=STAFF_ONLY,
)
@require(*STAFF)
def claim(submission_id: int) -> dict[str, Any]:
    """Hold a submission for the caller for CLAIM_SECONDS; 409 if someone else holds it."""
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    reviews.claim_submission(session, sub, user, current_app.config["CLAIM_SECONDS"])
    session.commit()
    return submission_json(sub, user)


@bp.post("/submissions/<int:submission_id>/confirm")
@operation(
    "confirm",
    "Confirm the grade: checked and kept (a label for calibration)",
    "review",
    {200: out.Submission},
    errors=(401, 403, 404, 409),
    description=STAFF_ONLY + " Marks the submission reviewed and records its points, with who"
    " and when, in the audit trail.",
)
@require(*STAFF)
def confirm(submission_id: int) -> dict[str, Any]:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    reviews.confirm(session, sub, user)
    session.commit()
    return submission_json(sub, user)


@bp.delete("/submissions/<int:submission_id>/claim")
@operation(
    "unclaim",
    "Drop a claim",
    "review",
    {200: out.Submission},
    errors=(401, 403, 404, 409),
    description=STAFF_ONLY,
)
@require(*STAFF)
def unclaim(submission_id: int) -> dict[str, Any]:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    reviews.drop_claim(session, sub, user)
    session.commit()
    return submission_json(sub, user)
