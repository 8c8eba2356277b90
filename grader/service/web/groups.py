"""The answer groups page of an assignment: review a group through its representative and
decide for all its members at once (operations.groups)."""

from __future__ import annotations

import re

from flask import redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..auth import STAFF
from ..db import get_db
from ..errors import APIError
from ..models import Submission
from ..operations import groups, reviews, rubrics
from ..operations.assignments import get_assignment
from .blueprint import bp, notify
from .session import current_user, signed_in

#: Groups of one shown in full below this many (the rest are counted).
_SINGLES_SHOWN = 50
#: A decision's members, as the API takes them (contracts.GroupDecision).
_MAX_MEMBERS = 1000
_ID = re.compile(r"[0-9]{1,9}")


@bp.get("/dashboard/<slug>/groups")
@signed_in(*STAFF)
def answer_groups(slug: str) -> str:
    session = get_db().session
    a = get_assignment(session, slug)
    found = groups.answer_groups(session, a)
    shared = [g for g in found if len(g.members) > 1]
    alone = [g for g in found if len(g.members) == 1]
    ids = [m for g in shared for m in g.members] + [g.members[0] for g in alone[:_SINGLES_SHOWN]]
    rows: dict[int, Submission] = {}
    for start in range(0, len(ids), 500):  # within every database's parameter limit
        chunk = ids[start : start + 500]
        rows.update(
            (s.id, s) for s in session.scalars(select(Submission).where(Submission.id.in_(chunk)))
        )
    return render_template(
        "web/groups.html",
        assignment=a,
        shared=shared,
        alone=alone[:_SINGLES_SHOWN],
        alone_count=len(alone),
        answers=sum(len(g.members) for g in found),
        rows=rows,
        criteria=rubrics.rubric_for(a.rubric).criteria,
        max_reason=reviews.MAX_REASON,
    )


def _back(slug: str) -> Response:
    return redirect(url_for("web.answer_groups", slug=slug), code=303)


@bp.post("/dashboard/<slug>/groups/decision")
@signed_in(*STAFF)
def decide_group(slug: str) -> Response:
    session = get_db().session
    a = get_assignment(session, slug)
    form = request.form
    raw = form.getlist("members")
    action = form.get("action", "confirm")
    points: float | None = None
    try:
        if len(raw) > _MAX_MEMBERS or not all(_ID.fullmatch(m) for m in raw):
            raise APIError(422, "invalid_members", "the group's members are not valid ids")
        members = [int(m) for m in raw]
        if action == "override":
            try:
                points = float(form.get("points", ""))
            except ValueError:
                raise APIError(422, "invalid_points", "points must be a number") from None
        elif action != "confirm":
            raise APIError(422, "invalid_action", "choose confirm or override")
        done, held = groups.decide(
            session,
            a,
            current_user(),
            members,
            action,
            criterion=form.get("criterion") or None,
            points=points,
            reason=form.get("reason"),
            comment=form.get("comment") or None,
        )
        session.commit()
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
        return _back(slug)
    what = "Confirmed" if action == "confirm" else "Overridden"
    notify(f"{what}: {len(done)} answer{'s' * (len(done) != 1)} of the group.")
    if held:
        notify(
            f"Held back, claimed by another instructor: {', '.join(f'#{i}' for i in held)}.",
            "error",
        )
    return _back(slug)


@bp.post("/dashboard/<slug>/groups/exclusions")
@signed_in(*STAFF)
def ungroup(slug: str) -> Response:
    session = get_db().session
    a = get_assignment(session, slug)
    raw = request.form.get("submission", "")
    try:
        groups.take_out(session, a, current_user(), int(raw) if _ID.fullmatch(raw) else 0)
        session.commit()
        notify(f"#{raw} is out of its group: it stands alone now.")
    except APIError as exc:
        session.rollback()
        notify(exc.sentence, "error")
    return _back(slug)
