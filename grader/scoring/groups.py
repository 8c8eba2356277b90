"""Answer groups: answers that say the same things, for one instructor decision at a time.

Two answers may share a group only when the grader read them alike: the same flags and
review reasons, each criterion's points within ``POINTS`` of its maximum, the totals within
``TOTAL`` of the maximum total, and, per criterion, the concepts they miss mostly the same
(mean Jaccard similarity of the missed sets at least ``CONCEPTS``). Grouping is greedy and
deterministic: answers in order of (flags, reasons, total descending, key) join the first
group opened whose leader they match, else open one. Leaders are indexed by a grid of
points (cells ``POINTS`` of a criterion's maximum wide, over the ``GRID`` criteria worth
the most), so an answer is compared only with leaders in its own and the neighbouring
cells, at most ``TRIES`` from each: the cost is linear in the answers, whatever the number
of criteria (0.3 s for 10,000 varied ones, ``bench/groups.py``).

>>> a = Answer(1, {"x": 9.0}, {"x": frozenset()}, 10.0)
>>> b = Answer(2, {"x": 8.5}, {"x": frozenset()}, 10.0)
>>> c = Answer(3, {"x": 3.0}, {"x": frozenset({"drift"})}, 10.0)
>>> [g.members for g in group([a, b, c], {"x": 10.0})]
[(1, 2), (3,)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby, product
from typing import Any

__all__ = ["CONCEPTS", "POINTS", "TOTAL", "Answer", "Group", "group"]

#: Largest difference in a criterion's points inside a group (share of its maximum).
POINTS = 0.1
#: Largest difference between a member's total and its group leader's (share of the maximum).
TOTAL = 0.05
#: Smallest mean Jaccard similarity of the missed concepts, criterion by criterion.
CONCEPTS = 0.5
#: Leaders of a neighbouring cell an answer is compared with at most (the latest opened):
#: what keeps answers that match nothing from making grouping quadratic.
TRIES = 32
#: Criteria the grid of leaders is laid over (the ones worth the most points).
GRID = 3


@dataclass(frozen=True, slots=True)
class Answer:
    """What grouping reads of a graded answer."""

    key: int  # the submission id: decides ties, so the same answers give the same groups
    points: Mapping[str, float]
    missing: Mapping[str, frozenset[str]]
    total: float
    flags: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()

    @classmethod
    def of(cls, key: int, grade: Mapping[str, Any]) -> Answer:
        """What grouping reads of a grade (``Grade.to_dict()``)."""
        return cls(
            key,
            {c["id"]: c["points"] for c in grade["criteria"]},
            {c["id"]: frozenset(c.get("missing", ())) for c in grade["criteria"]},
            grade["total"],
            frozenset(grade["flags"]),
            frozenset(r["code"] for r in grade["review_reasons"]),
        )


@dataclass(frozen=True, slots=True)
class Group:
    members: tuple[int, ...]
    representative: int  # the member whose total is nearest the group's mean
    low: float  # the lowest and highest total inside
    high: float
    missed: tuple[str, ...] = field(default=())  # concepts most members miss, commonest first


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _alike(a: Answer, leader: Answer, limits: Mapping[str, float], total_limit: float) -> bool:
    if abs(a.total - leader.total) > total_limit:
        return False
    for cid, limit in limits.items():
        if abs(a.points.get(cid, 0.0) - leader.points.get(cid, 0.0)) > limit:
            return False
    if not limits:
        return True
    same = sum(
        _jaccard(a.missing.get(c, frozenset()), leader.missing.get(c, frozenset())) for c in limits
    )
    return same / len(limits) >= CONCEPTS


def group(answers: Sequence[Answer], max_points: Mapping[str, float]) -> list[Group]:
    """The answers' groups, largest first (then by their first member)."""
    limits = {cid: POINTS * top for cid, top in max_points.items()}
    total_limit = TOTAL * sum(max_points.values())
    # The grid is over the criteria worth the most (at most GRID of them: its neighbourhood
    # is 3 ** GRID cells); _alike checks every criterion.
    ids = sorted(sorted(limits, key=lambda c: (-limits[c], c))[:GRID])

    def kind(a: Answer) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(sorted(a.flags)), tuple(sorted(a.reasons))

    def cell(a: Answer) -> tuple[int, ...]:
        # Alike answers differ by at most one cell along each criterion.
        return tuple(math.floor(a.points.get(c, 0.0) / limits[c]) if limits[c] else 0 for c in ids)

    around = list(product((-1, 0, 1), repeat=len(ids)))
    ordered = sorted(answers, key=lambda a: (kind(a), -a.total, a.key))
    out: list[Group] = []
    for _, same_kind in groupby(ordered, key=kind):
        opened: list[list[Answer]] = []
        cells: dict[tuple[int, ...], list[int]] = {}  # cell -> indexes of its groups
        for a in same_kind:
            home = cell(a)
            near: list[int] = []
            for step in around:
                found = cells.get(tuple(h + d for h, d in zip(home, step, strict=True)))
                if found:
                    # The latest leaders first (the nearest totals), a bounded number.
                    near.extend(found[-TRIES:])
            chosen = None
            for i in sorted(set(near)):  # in the order the groups were opened
                leader = opened[i][0]
                if _alike(a, leader, limits, total_limit):
                    chosen = i
                    break
            if chosen is None:
                opened.append([a])
                cells.setdefault(home, []).append(len(opened) - 1)
            else:
                opened[chosen].append(a)
        out.extend(_summary(members) for members in opened)
    return sorted(out, key=lambda g: (-len(g.members), min(g.members)))


def _summary(members: list[Answer]) -> Group:
    totals = [m.total for m in members]
    mean = sum(totals) / len(totals)
    rep = min(members, key=lambda m: (abs(m.total - mean), m.key))
    counts: dict[str, int] = {}
    for m in members:
        for concept in {c for missed in m.missing.values() for c in missed}:
            counts[concept] = counts.get(concept, 0) + 1
    missed = tuple(
        c for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if 2 * n > len(members)
    )
    return Group(
        tuple(sorted(m.key for m in members)), rep.key, min(totals), max(totals), missed[:8]
    )
