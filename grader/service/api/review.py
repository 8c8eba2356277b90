"""The review queue: what instructors look at, filter, claim and work through."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, request
from sqlalchemy import func, select

from .. import grading
from ..auth import STAFF, current_user, load_submission, require
from ..db import get_db
from ..errors import APIError
from ..models import Assignment, AuditEvent, Status, Submission, User, utcnow
from .params import float_arg, int_arg
from .submissions import submission_json

bp = Blueprint("review", __name__)

_SORTS = {"confidence", "-confidence", "time", "-time", "total", "-total"}


def queue_query(args: Any) -> tuple[Any, str]:
    """The filtered, sorted select for the queue (shared with the web pages)."""
    query = select(Submission).join(Assignment).where(Submission.current.is_(True))
    if slug := args.get("assignment"):
        query = query.where(Assignment.slug == slug)
    statuses = [s for s in (args.get("status") or "graded").split(",") if s]
    if statuses != ["all"]:
        valid = {s.value for s in Status}
        bad = [s for s in statuses if s not in valid]
        if bad:
            raise APIError(
                422,
                "invalid_parameter",
                f"unknown status {bad[0]!r}; use one of {', '.join(sorted(valid))} or all",
                field="status",
            )
        query = query.where(Submission.status.in_([Status(s) for s in statuses]))
    if flag := args.get("flag"):
        query = query.where(Submission.flags_text.contains(f",{flag},"))
    if reason := args.get("reason"):
        query = query.where(Submission.review_codes.contains(f",{reason},"))
    lo, hi = float_arg("min_total"), float_arg("max_total")
    if lo is not None:
        query = query.where(Submission.total >= lo)
    if hi is not None:
        query = query.where(Submission.total <= hi)
    if args.get("reviewed") in ("0", "1"):
        query = query.where(Submission.reviewed.is_(args.get("reviewed") == "1"))
    if args.get("unclaimed") == "1":
        now = utcnow()
        query = query.where(
            (Submission.claimed_by_id.is_(None)) | (Submission.claim_expires_at < now)
        )
    sort = args.get("sort") or "confidence"
    if sort not in _SORTS:
        raise APIError(
            422,
            "invalid_parameter",
            f"sort must be one of {', '.join(sorted(_SORTS))}",
            field="sort",
        )
    column = {
        "confidence": Submission.confidence,
        "time": Submission.created_at,
        "total": Submission.total,
    }[sort.lstrip("-")]
    ordered = column.desc() if sort.startswith("-") else column.asc()
    # Ungraded rows (no confidence yet) go last; the id makes the order total and stable.
    query = query.order_by(column.is_(None), ordered, Submission.id.asc())
    return query, sort


@bp.get("/review-queue")
@require(*STAFF)
def queue() -> dict[str, Any]:
    """Current submissions, least confident first by default, filtered and paginated."""
    session = get_db().session
    query, sort = queue_query(request.args)
    page = int_arg("page", 1, 1, 100_000)
    per_page = int_arg(
        "per_page", current_app.config["PAGE_SIZE"], 1, current_app.config["MAX_PAGE_SIZE"]
    )
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
    items = []
    for sub in rows:
        items.append(
            {
                "id": sub.id,
                "assignment": sub.assignment.slug,
                "learner": {"id": sub.learner_id, "name": sub.learner.name},
                "version": sub.version,
                "status": sub.status.value,
                "total": sub.total,
                "max_total": sub.max_total,
                "confidence": sub.confidence,
                "flags": [f for f in sub.flags_text.split(",") if f],
                "review_reasons": [c for c in (sub.review_codes or ",").split(",") if c],
                "reviewed": sub.reviewed,
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
        "sort": sort,
        "pages": (total + per_page - 1) // per_page if total else 0,
    }


def claim_submission(session: Any, sub: Submission, user: User, seconds: int) -> None:
    now = utcnow()
    grading.ensure_not_claimed_by_other(sub, user)
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


@bp.post("/submissions/<int:submission_id>/claim")
@require(*STAFF)
def claim(submission_id: int) -> dict[str, Any]:
    """Hold a submission for the caller for CLAIM_SECONDS; 409 if someone else holds it."""
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    claim_submission(session, sub, user, current_app.config["CLAIM_SECONDS"])
    session.commit()
    return submission_json(sub, user)


@bp.delete("/submissions/<int:submission_id>/claim")
@require(*STAFF)
def unclaim(submission_id: int) -> dict[str, Any]:
    user = current_user()
    session = get_db().session
    sub = load_submission(session, submission_id, user)
    grading.ensure_not_claimed_by_other(
        sub, user, "only the instructor holding the claim can drop it"
    )
    sub.claimed_by_id = None
    sub.claim_expires_at = None
    session.commit()
    return submission_json(sub, user)
