"""Answer groups of an assignment, and one decision for a group (staff only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from ..auth import STAFF, current_user, require
from ..contracts import STAFF_ONLY, GroupDecision, GroupExclude, operation, parse
from ..contracts import responses as out
from ..db import get_db
from ..models import Submission, User
from ..operations import groups
from ..operations.assignments import get_assignment, learner_shown
from .body import json_body

bp = Blueprint("groups", __name__)


@bp.get("/assignments/<slug>/groups")
@operation(
    "listAnswerGroups",
    "The graded answers waiting for review, in groups the grader read alike",
    "review",
    {200: out.AnswerGroupList},
    errors=(401, 403, 404),
    description=STAFF_ONLY
    + " Members share flags and review reasons, each criterion's points within 10% of its"
    " maximum, totals within 5% of the maximum and mostly the same missed concepts. The same"
    " answers always give the same groups; largest first.",
)
@require(*STAFF)
def index(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    found = groups.answer_groups(session, a)
    names: dict[int, str] = {
        sid: learner_shown(a.blind_review, sid, lid, name, released is not None)["name"]
        for sid, lid, name, released in session.execute(
            select(Submission.id, Submission.learner_id, User.name, Submission.released_at)
            .join(User, User.id == Submission.learner_id)
            .where(Submission.assignment_id == a.id, Submission.current)
        )
    }
    return {
        "answers": sum(len(g.members) for g in found),
        "groups": [groups.group_json(g, names) for g in found],
    }


@bp.post("/assignments/<slug>/groups/decision")
@operation(
    "decideGroup",
    "One decision for a group's members: confirm every grade, or override one criterion",
    "review",
    {200: out.GroupDecided},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=GroupDecision,
    description=STAFF_ONLY
    + " All or nothing; members another instructor has claimed are held back (`claimed`)."
    " Each member's history records the override or confirmation and the group decision.",
)
@require(*STAFF)
def decide(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    body = parse(GroupDecision, json_body())
    done, held = groups.decide(
        session,
        a,
        current_user(),
        body.members,
        body.action,
        criterion=body.criterion,
        points=body.points,
        reason=body.reason,
        comment=body.comment,
    )
    session.commit()
    return {"decided": done, "count": len(done), "claimed": held}


@bp.post("/assignments/<slug>/groups/exclusions")
@operation(
    "ungroupAnswer",
    "Take an answer out of its group (it stands alone from then on)",
    "review",
    {200: out.Ungrouped},
    errors=(401, 403, 404, 413, 415, 422),
    body=GroupExclude,
    description=STAFF_ONLY,
)
@require(*STAFF)
def exclude(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    body = parse(GroupExclude, json_body())
    groups.take_out(session, a, current_user(), body.submission)
    session.commit()
    return {"submission": body.submission, "grouped": False}
