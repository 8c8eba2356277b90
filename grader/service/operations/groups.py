"""Answer groups: an assignment's answers waiting for review that the grader read alike
(:func:`grader.scoring.groups.group`), so an instructor can look at one and decide for all.

Groups are computed from the current graded answers each time (the same answers give the
same groups), minus the answers an instructor took out (:class:`GroupExclusion`), which
stand alone. A decision names the members the instructor saw, never "whatever the group
holds now": confirm every grade, or set one criterion's points with one reason and comment
for all; each member's history records the override or confirmation and the group
decision. Members another instructor has claimed are held back, as in a bulk release.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.scoring.groups import Answer, Group, group

from ..errors import APIError
from ..models import MAX_ID, Assignment, Grade, GroupExclusion, Status, Submission, User
from .events import audit
from .reviews import claimed_by_other, confirm, override
from .rubrics import rubric_for

__all__ = ["BATCH", "answer_groups", "decide", "group_json", "take_out"]

#: Submissions read per query.
BATCH = 500


def _answers(session: Session, a: Assignment) -> list[Answer]:
    """The current graded answers as grouping reads them, in keyset pages."""
    out: list[Answer] = []
    after = 0
    while True:
        rows = session.execute(
            select(
                Submission.id,
                Submission.points,
                Submission.total,
                Submission.flags_text,
                Submission.review_codes,
            )
            .where(
                Submission.assignment_id == a.id,
                Submission.current,
                Submission.status == Status.GRADED,
                Submission.reviewed.is_(False),  # decided answers leave their group
                Submission.id > after,
            )
            .order_by(Submission.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return out
        missing: dict[int, dict[str, frozenset[str]]] = {}
        for sid, criteria in session.execute(
            select(Grade.submission_id, Grade.criteria)
            .where(Grade.submission_id.in_([r.id for r in rows]))
            .order_by(Grade.id)
        ):
            missing[sid] = {c["id"]: frozenset(c.get("missing", ())) for c in criteria}
        for r in rows:
            out.append(
                Answer(
                    r.id,
                    dict(r.points or {}),
                    missing.get(r.id, {}),
                    float(r.total or 0.0),
                    frozenset(f for f in r.flags_text.split(",") if f),
                    frozenset(c for c in (r.review_codes or ",").split(",") if c),
                )
            )
        after = rows[-1].id


def answer_groups(session: Session, a: Assignment) -> list[Group]:
    """The assignment's answer groups, largest first; taken-out answers stand alone."""
    rubric = rubric_for(a.rubric)
    out = set(
        session.scalars(
            select(GroupExclusion.submission_id).where(GroupExclusion.assignment_id == a.id)
        )
    )
    found = _answers(session, a)
    grouped = group(
        [x for x in found if x.key not in out], {c.id: float(c.points) for c in rubric.criteria}
    )
    alone = [Group((x.key,), x.key, x.total, x.total) for x in found if x.key in out]
    return sorted(grouped + alone, key=lambda g: (-len(g.members), min(g.members)))


def group_json(g: Group, names: dict[int, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "representative": g.representative,
        "size": len(g.members),
        "members": list(g.members),
        "low": g.low,
        "high": g.high,
        "missed": list(g.missed),
    }
    if names is not None:
        out["learners"] = [names.get(m) for m in g.members]
    return out


def _members(session: Session, a: Assignment, ids: list[int]) -> list[Submission]:
    """The listed submissions, each a current graded answer of the assignment (422 naming
    the first that is not: the group changed since the instructor saw it)."""
    wanted = list(dict.fromkeys(i for i in ids if 0 < i <= MAX_ID))
    found = {
        s.id: s
        for s in session.scalars(
            select(Submission).where(Submission.id.in_(wanted), Submission.assignment_id == a.id)
        )
    }
    for i in ids:
        sub = found.get(i)
        if sub is None or not sub.current or sub.status != Status.GRADED:
            raise APIError(
                422,
                "invalid_members",
                f"submission {i} is not a graded answer of this assignment waiting for review",
                field="members",
            )
        if sub.reviewed:  # another instructor decided since the group was listed
            raise APIError(
                409,
                "already_reviewed",
                f"submission {i} was reviewed since the group was listed: list the groups again",
                field="members",
            )
    return [found[i] for i in wanted]


def decide(
    session: Session,
    a: Assignment,
    actor: User,
    members: list[int],
    action: str,
    *,
    criterion: str | None = None,
    points: float | None = None,
    reason: str | None = None,
    comment: str | None = None,
) -> tuple[list[int], list[int]]:
    """Apply one decision to each listed member; returns (decided ids, held ids: claimed by
    another instructor). All or nothing: a member that refuses it (bad points, say) stops
    the whole decision before anything is stored."""
    subs = _members(session, a, members)
    if action == "override" and (criterion is None or points is None):
        raise APIError(
            422, "invalid_criterion", "an override names a criterion and points", field="criterion"
        )
    done: list[int] = []
    held: list[int] = []
    for sub in subs:
        if claimed_by_other(sub, actor):
            held.append(sub.id)
            continue
        if action == "confirm":
            confirm(session, sub, actor)
        else:
            assert criterion is not None and points is not None
            override(session, sub, actor, criterion, points, reason or "", comment)
        audit(
            session,
            sub,
            "group_decision",
            actor=actor,
            after={"action": action, "criterion": criterion, "points": points, "size": len(subs)}
            if action == "override"
            else {"action": action, "size": len(subs)},
            reason=reason if action == "override" else "grades of the group checked and kept",
        )
        done.append(sub.id)
    return done, held


def take_out(session: Session, a: Assignment, actor: User, submission_id: int) -> None:
    """Take an answer out of its group for good (idempotent)."""
    sub = session.get(Submission, submission_id) if 0 < submission_id <= MAX_ID else None
    if sub is None or sub.assignment_id != a.id:
        raise APIError(404, "not_found", "no such submission in this assignment")
    if session.get(GroupExclusion, submission_id) is not None:
        return
    try:
        with session.begin_nested():  # two clicks at once: the second finds it done
            session.add(GroupExclusion(submission_id=sub.id, assignment_id=a.id, by_id=actor.id))
            session.flush()
    except IntegrityError:
        return
    audit(session, sub, "ungrouped", actor=actor, reason="taken out of its answer group")
