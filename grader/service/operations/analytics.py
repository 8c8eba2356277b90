"""Grading analytics for one assignment: per criterion, the grader's points beside the final
ones; how often and by how much each instructor overrides each criterion (consistency
between graders); the concepts answers miss most; and how well the grader's confidence held
on the reviewed answers. One pass over the current answers' latest grades, in pages."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Assignment, Grade, Override, Status, Submission, User
from .calibrations import labels
from .rubrics import rubric_for

#: Submissions per page of the pass.
BATCH = 500
#: Confidence bins for the calibration table (lower edges).
CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.8, 0.9)
#: Off by more than this many points of 100 counts as wrong.
WRONG = 15.0
TOP_MISSED = 5
#: Bins of a criterion's points distribution (equal shares of its maximum).
POINT_BINS = 5


def _bin(points: float, top: float) -> int:
    if not top or not math.isfinite(points):
        return 0
    # Rounded first: 2.4 of 12 is the second band's edge, not 0.19999... of the first.
    return min(POINT_BINS - 1, max(0, int(round(points * POINT_BINS / top, 9))))


def _latest_grades(session: Session, a: Assignment) -> Any:
    """(submission id, its effective points, its latest grade's criteria), page by page."""
    latest = (
        select(func.max(Grade.id).label("grade_id"))
        .join(Submission, Submission.id == Grade.submission_id)
        .where(
            Submission.assignment_id == a.id,
            Submission.current,
            Submission.status.in_([Status.GRADED, Status.RELEASED]),
        )
        .group_by(Grade.submission_id)
        .subquery()
    )
    after = 0
    while True:
        rows = session.execute(
            select(Grade.id, Grade.submission_id, Grade.criteria, Submission.points)
            .join(latest, latest.c.grade_id == Grade.id)
            .join(Submission, Submission.id == Grade.submission_id)
            .where(Grade.id > after)
            .order_by(Grade.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def analytics(session: Session, a: Assignment) -> dict[str, Any]:
    rubric = rubric_for(a.rubric)
    ids = [c.id for c in rubric.criteria]
    names = {c.id: c.name for c in rubric.criteria}
    auto: dict[str, float] = defaultdict(float)
    final: dict[str, float] = defaultdict(float)
    missed: dict[str, Counter[str]] = defaultdict(Counter)
    grader_points: dict[tuple[int, str], float] = {}
    tops = {c.id: float(c.points) for c in rubric.criteria}
    auto_bins: dict[str, list[int]] = {cid: [0] * POINT_BINS for cid in ids}
    final_bins: dict[str, list[int]] = {cid: [0] * POINT_BINS for cid in ids}
    n = 0
    for row in _latest_grades(session, a):
        n += 1
        effective = row.points or {}
        for c in row.criteria:
            cid = c["id"]
            auto[cid] += float(c["points"])
            final[cid] += float(effective.get(cid, c["points"]))
            if cid in auto_bins:
                auto_bins[cid][_bin(float(c["points"]), tops[cid])] += 1
                final_bins[cid][_bin(float(effective.get(cid, c["points"])), tops[cid])] += 1
            grader_points[(row.submission_id, cid)] = float(c["points"])
            for concept in c.get("missing", []):
                missed[cid][str(concept)] += 1
    per_criterion = [
        {
            "id": cid,
            "name": names[cid],
            "max_points": next(c.points for c in rubric.criteria if c.id == cid),
            "grader_mean": round(auto[cid] / n, 2) if n else None,
            "final_mean": round(final[cid] / n, 2) if n else None,
            "most_missed": [
                {"concept": k, "answers": v} for k, v in missed[cid].most_common(TOP_MISSED)
            ],
            # How many answers got each share of the points, from the grader and in the end.
            "distribution": [
                {
                    "low": round(tops[cid] * b / POINT_BINS, 2),
                    "high": round(tops[cid] * (b + 1) / POINT_BINS, 2),
                    "grader": auto_bins[cid][b],
                    "final": final_bins[cid][b],
                }
                for b in range(POINT_BINS)
            ],
        }
        for cid in ids
    ]
    return {
        "answers": n,
        "criteria": per_criterion,
        "instructors": _overrides(session, a, grader_points, names),
        "confidence": _confidence(session, a),
    }


def _overrides(
    session: Session,
    a: Assignment,
    grader_points: dict[tuple[int, str], float],
    names: dict[str, str],
) -> list[dict[str, Any]]:
    """Per instructor and criterion: how many answers they overrode and the mean change
    from the grader's points (signed and absolute), the latest override per answer."""
    latest = (
        select(func.max(Override.id).label("override_id"))
        .join(Submission, Submission.id == Override.submission_id)
        .where(Submission.assignment_id == a.id, Submission.current)
        .group_by(Override.submission_id, Override.criterion)
        .subquery()
    )
    stats: dict[tuple[int, str], list[float]] = defaultdict(list)
    for o in session.execute(
        select(
            Override.instructor_id, Override.submission_id, Override.criterion, Override.points
        ).join(latest, latest.c.override_id == Override.id)
    ):
        before = grader_points.get((o.submission_id, o.criterion))
        if before is not None:
            stats[(o.instructor_id, o.criterion)].append(float(o.points) - before)
    people = {
        u.id: u.name
        for u in session.scalars(select(User).where(User.id.in_({k[0] for k in stats})))
    }
    return [
        {
            "instructor": people.get(uid, f"user {uid}"),
            "instructor_id": uid,
            "criterion": cid,
            "criterion_name": names.get(cid, cid),
            "overrides": len(changes),
            "mean_change": round(sum(changes) / len(changes), 2),
            "mean_abs_change": round(sum(abs(c) for c in changes) / len(changes), 2),
        }
        for (uid, cid), changes in sorted(
            stats.items(), key=lambda kv: (people.get(kv[0][0], ""), kv[0])
        )
    ]


def _confidence(session: Session, a: Assignment) -> list[dict[str, Any]]:
    """On the reviewed answers (the calibration labels): per bin of the grader's own
    confidence, how many there are and the share within 15 points of the instructors'."""
    rubric = rubric_for(a.rubric)
    scale = 100.0 / rubric.max_total if rubric.max_total else 1.0
    rows = []
    found = labels(session, a)
    for i, lo in enumerate(CONFIDENCE_BINS):
        hi = CONFIDENCE_BINS[i + 1] if i + 1 < len(CONFIDENCE_BINS) else 1.0001
        inside = [lab for lab in found if lo <= lab.confidence < hi]
        within = [
            lab
            for lab in inside
            if abs(sum(lab.grader.values()) - sum(lab.instructor.values())) * scale <= WRONG
        ]
        rows.append(
            {
                "low": lo,
                "high": min(hi, 1.0),
                "answers": len(inside),
                "within_15": round(len(within) / len(inside), 3) if inside else None,
            }
        )
    return rows


def analytics_csv(session: Session, assignment_id: int) -> Any:
    """The analytics as CSV, one table after another (section, then its columns)."""
    import csv
    import io

    from .exports import safe_cell

    a = session.get(Assignment, assignment_id)
    if a is None:
        return
    data = analytics(session, a)
    out = io.StringIO()
    writer = csv.writer(out)

    def line(row: list[Any]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow([safe_cell(v) for v in row])
        return out.getvalue()

    yield line(["section", "criterion", "max_points", "grader_mean", "final_mean", "most_missed"])
    for c in data["criteria"]:
        missed = "; ".join(f"{m['concept']} ({m['answers']})" for m in c["most_missed"])
        yield line(
            ["criteria", c["id"], c["max_points"], c["grader_mean"], c["final_mean"], missed]
        )
    yield line([])
    yield line(["section", "criterion", "from_points", "to_points", "grader", "final"])
    for c in data["criteria"]:
        for b in c["distribution"]:
            yield line(["distribution", c["id"], b["low"], b["high"], b["grader"], b["final"]])
    yield line([])
    yield line(
        ["section", "instructor", "criterion", "overrides", "mean_change", "mean_abs_change"]
    )
    for r in data["instructors"]:
        yield line(
            [
                "instructors",
                r["instructor"],
                r["criterion"],
                r["overrides"],
                r["mean_change"],
                r["mean_abs_change"],
            ]
        )
    yield line([])
    yield line(["section", "confidence_low", "confidence_high", "answers", "within_15"])
    for b in data["confidence"]:
        yield line(["confidence", b["low"], b["high"], b["answers"], b["within_15"]])
