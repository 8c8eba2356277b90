"""Splitting an assignment's review across a team: each answer waiting for review gets one
instructor (``Submission.reviewer_id``), and each instructor finds their own share in the
queue (``reviewer=me``).

Two ways, both deterministic for the same answers and team: ``random`` deals the answers
round the team in an order fixed by a hash of the assignment and answer ids (no one gets
the early or the late ones); ``groups`` gives each answer group
(:mod:`grader.service.operations.groups`) whole to the instructor with the smallest share
so far, largest groups first, so one person decides for alike answers. Only answers not
reviewed yet are dealt, and, unless ``reassign``, only those nobody has.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import MAX_ID, Assignment, Role, Status, Submission, User
from .groups import answer_groups

__all__ = ["MODES", "shares", "split"]

MODES = ("random", "groups")


def _team(session: Session, ids: list[int]) -> list[User]:
    wanted = list(dict.fromkeys(i for i in ids if 0 < i <= MAX_ID))
    found = {
        u.id: u
        for u in session.scalars(
            select(User).where(
                User.id.in_(wanted),
                User.role.in_([Role.INSTRUCTOR, Role.ADMIN]),
                User.active.is_(True),
            )
        )
    }
    for i in ids:
        if i not in found:
            raise APIError(
                422,
                "invalid_reviewers",
                f"user {i} is not an active instructor or admin",
                field="reviewers",
            )
    return [found[i] for i in wanted]


def _order(a: Assignment, sid: int) -> bytes:
    return hashlib.sha256(f"{a.id}:{sid}".encode()).digest()


def split(
    session: Session, a: Assignment, reviewer_ids: list[int], mode: str, *, reassign: bool = False
) -> dict[int, int]:
    """Deal the answers waiting for review among the reviewers; returns how many each got
    (by user id). The caller commits."""
    team = _team(session, reviewer_ids)
    if mode not in MODES:
        raise APIError(422, "invalid_mode", "'mode' must be random or groups", field="mode")
    waiting = select(Submission.id, Submission.reviewer_id).where(
        Submission.assignment_id == a.id,
        Submission.current,
        Submission.status == Status.GRADED,
        Submission.reviewed.is_(False),
    )
    rows = session.execute(waiting).all()
    free = {sid for sid, who in rows if reassign or who is None}
    dealt: dict[int, list[int]] = {u.id: [] for u in team}
    # What each already has to review counts: a split as answers arrive stays balanced.
    load = {u.id: 0 for u in team}
    for sid, who in rows:
        if who in load and sid not in free:
            load[who] += 1
    rank = {u.id: n for n, u in enumerate(team)}

    def lightest() -> int:
        return min(load, key=lambda uid: (load[uid], rank[uid]))

    if mode == "random":
        for sid in sorted(free, key=lambda s: _order(a, s)):
            who = lightest()
            dealt[who].append(sid)
            load[who] += 1
    else:
        for g in answer_groups(session, a):
            members = [m for m in g.members if m in free]
            if members:
                who = lightest()
                dealt[who].extend(members)
                load[who] += len(members)
    for uid, sids in dealt.items():
        for start in range(0, len(sids), 500):
            query = update(Submission).where(Submission.id.in_(sids[start : start + 500]))
            if not reassign:  # another split at the same time keeps what it dealt
                query = query.where(Submission.reviewer_id.is_(None))
            session.execute(
                query.values(reviewer_id=uid).execution_options(synchronize_session=False)
            )
    return {uid: len(sids) for uid, sids in dealt.items()}


def shares(session: Session, a: Assignment) -> list[dict[str, Any]]:
    """Each reviewer's share of the assignment's current graded answers: how many, how many
    reviewed, how many left."""
    rows = session.execute(
        select(
            Submission.reviewer_id,
            User.name,
            func.count(),
            # Done: reviewed, or released (a release takes it out of the review).
            func.sum(
                case(
                    (Submission.reviewed.is_(True) | (Submission.status == Status.RELEASED), 1),
                    else_=0,
                )
            ),
        )
        .join(User, User.id == Submission.reviewer_id)
        .where(
            Submission.assignment_id == a.id,
            Submission.reviewer_id.is_not(None),  # the reviewer index finds just these
            Submission.current,
            Submission.status.in_([Status.GRADED, Status.RELEASED]),
        )
        .group_by(Submission.reviewer_id, User.name)
        .order_by(User.name, Submission.reviewer_id)
    ).all()
    return [
        {
            "reviewer": uid,
            "name": name,
            "answers": int(n),
            "reviewed": int(done or 0),
            "left": int(n) - int(done or 0),
        }
        for uid, name, n, done in rows
    ]
