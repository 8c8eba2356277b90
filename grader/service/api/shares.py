"""Splitting an assignment's review across instructors (staff only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..auth import STAFF, require
from ..contracts import STAFF_ONLY, ShareRequest, operation, parse
from ..contracts import responses as out
from ..db import get_db
from ..operations import shares
from ..operations.assignments import get_assignment
from .body import json_body

bp = Blueprint("shares", __name__)


@bp.get("/assignments/<slug>/shares")
@operation(
    "reviewShares",
    "Each instructor's share of the review: answers, reviewed, left",
    "review",
    {200: out.Shares},
    errors=(401, 403, 404),
    description=STAFF_ONLY + " Each finds their own in the queue with `reviewer=me`.",
)
@require(*STAFF)
def index(slug: str) -> dict[str, Any]:
    session = get_db().session
    return {"shares": shares.shares(session, get_assignment(session, slug))}


@bp.post("/assignments/<slug>/shares")
@operation(
    "splitReview",
    "Deal the answers waiting for review among instructors (random, or by answer group)",
    "review",
    {200: out.Shares},
    errors=(401, 403, 404, 413, 415, 422),
    body=ShareRequest,
    description=STAFF_ONLY
    + " Deterministic for the same answers and team. Only answers not reviewed yet are"
    " dealt; without `reassign`, only those nobody has.",
)
@require(*STAFF)
def split(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    body = parse(ShareRequest, json_body())
    dealt = shares.split(session, a, body.reviewers, body.mode, reassign=body.reassign)
    session.commit()
    return {"shares": shares.shares(session, a), "dealt": {str(k): v for k, v in dealt.items()}}
