"""An assignment's figures for its dashboard: counts by status, how many graded answers
were reviewed, and the score distributions (totals and each criterion, overrides included).

Counts are SQL aggregates. The distributions need each grade as it stands (grader points
with instructors' overrides applied), kept on each submission's row; they are read in one
streamed query (rows graded before migration 0010 through
:func:`~grader.service.operations.standings.standings`) and kept per assignment until
any of its current submissions changes (an override, a release or a new grade touches
``updated_at``; a new version changes the count), so a dashboard reload costs two small
queries, not a pass over every grade.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from ..models import Status, Submission
from .standings import standings

__all__ = ["Distributions", "cached", "counts", "distributions", "reviewed_count"]

_SCORED = (Status.GRADED, Status.RELEASED)


@dataclass(frozen=True, slots=True)
class Distributions:
    """The values in ascending order; criteria by id."""

    totals: tuple[float, ...]
    criteria: dict[str, tuple[float, ...]]


# (database, assignment id, what) -> (its stamp when read, what was read)
_CACHE: dict[tuple[str, int, str], tuple[tuple[int, datetime | None], Any]] = {}
T = TypeVar("T")
_LOCK = threading.Lock()


def counts(session: Session, assignment_id: int) -> dict[str, int]:
    """Current submissions by status (every status present, zero where none)."""
    out = {s.value: 0 for s in Status}
    for status, n in session.execute(
        select(Submission.status, func.count())
        .where(Submission.assignment_id == assignment_id, Submission.current)
        .group_by(Submission.status)
    ):
        out[Status(status).value] = n
    return out


def release_pending_count(session: Session, assignment_id: int) -> int:
    """Released submissions whose newer grade (a regrade after release) waits for release."""
    return int(
        session.scalar(
            select(func.count()).where(
                Submission.assignment_id == assignment_id,
                Submission.current,
                Submission.release_pending == true(),
            )
        )
        or 0
    )


def reviewed_count(session: Session, assignment_id: int) -> int:
    """Current graded submissions an instructor has reviewed (waiting for release)."""
    return int(
        session.scalar(
            select(func.count()).where(
                Submission.assignment_id == assignment_id,
                Submission.current,
                Submission.status == Status.GRADED,
                Submission.reviewed.is_(True),
            )
        )
        or 0
    )


def distributions(session: Session, assignment_id: int) -> Distributions:
    """Totals and per-criterion points of the graded and released current submissions."""
    return cached(session, "distributions", assignment_id, lambda: _read(session, assignment_id))


def cached(session: Session, name: str, assignment_id: int, compute: Callable[[], T]) -> T:
    """``compute()``, kept per (database, assignment, name) until any current graded or
    released submission of the assignment changes (count and latest ``updated_at``)."""
    stamp_row = session.execute(
        select(func.count(), func.max(Submission.updated_at)).where(
            Submission.assignment_id == assignment_id,
            Submission.current,
            Submission.status.in_(_SCORED),
        )
    ).one()
    stamp = (int(stamp_row[0]), stamp_row[1])
    key = (str(session.get_bind().engine.url), assignment_id, name)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        return cast(T, hit[1])
    found = compute()
    with _LOCK:
        _CACHE[key] = (stamp, found)
    return found


def _read(session: Session, assignment_id: int) -> Distributions:
    totals: list[float] = []
    per: dict[str, list[float]] = {}
    legacy: list[int] = []
    rows = session.execute(
        select(Submission.id, Submission.total, Submission.points)
        .where(
            Submission.assignment_id == assignment_id,
            Submission.current,
            Submission.status.in_(_SCORED),
        )
        .execution_options(yield_per=5000)
    )
    for sid, total, points in rows:
        if total is None:
            continue
        if points is None:  # graded before the points were kept on the row
            legacy.append(sid)
            continue
        totals.append(total)
        for cid, value in points.items():
            per.setdefault(cid, []).append(value)
    if legacy:
        wanted = set(legacy)
        for row in standings(session, assignment_id, _SCORED):
            if row.id in wanted and row.total is not None:
                totals.append(row.total)
                for cid, value in row.points.items():
                    per.setdefault(cid, []).append(value)
    # Sorted, so the same grades give the same figures whatever order the database returns.
    return Distributions(tuple(sorted(totals)), {k: tuple(sorted(per[k])) for k in sorted(per)})
