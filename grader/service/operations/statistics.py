"""An assignment's figures for its dashboard: counts by status, how many graded answers
were reviewed, and the score distributions (totals and each criterion, overrides included).

Counts and distributions are SQL aggregates: each grade as it stands (grader points with
instructors' overrides applied) is kept on its submission's row, and one pass of the
database counts each histogram's bins and sums each mean (jsonb on PostgreSQL, so reading a
criterion does not parse JSON text); the median total is one more indexed read. Rows graded
before migration 0010 have no points on the row: when there are any, the distributions are
read the old way, through :func:`~grader.service.operations.standings.standings`. The
figures are kept per assignment until any of its current submissions changes (an override,
a release or a new grade touches ``updated_at``; a new version changes the count), so a
dashboard reload costs two small queries.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session

from ..models import Status, Submission
from .standings import standings

__all__ = [
    "Bins",
    "Distributions",
    "Overview",
    "Series",
    "Stamp",
    "cached",
    "counts",
    "distributions",
    "overview",
    "series_of",
]

_SCORED = (Status.GRADED, Status.RELEASED)
#: Means are rounded so that both databases (which sum in their own order) agree.
_MEAN_DIGITS = 9


@dataclass(frozen=True, slots=True)
class Bins:
    """Equal bins from 0 to ``top`` (the last one takes the top, the first anything below 0)."""

    top: float
    count: int

    @property
    def edges(self) -> tuple[float, ...]:
        """The inner edges: value v is in bin i when edges[i-1] <= v < edges[i]."""
        # Rounded: 3 * (4 / 10) is 1.2000000000000002 (and 1.2 * 7 / 10 0.8400000000000001),
        # which would put a grade of 1.2 of 4 in the bar below its own. Points are kept to
        # two decimals, so nine cannot merge two edges.
        top = self.top if self.top > 0 else float(self.count)
        return tuple(round(top * k / self.count, 9) for k in range(1, self.count))


@dataclass(frozen=True, slots=True)
class Series:
    """One distribution: how many values fell in each bin, their number, mean and median."""

    counts: tuple[int, ...]
    n: int
    mean: float | None
    median: float | None = None


@dataclass(frozen=True, slots=True)
class Distributions:
    """The totals' and each criterion's distribution (criteria by id)."""

    totals: Series
    criteria: dict[str, Series]


def series_of(values: Sequence[float], bins: Bins, *, median: bool = False) -> Series:
    """The series of plain values, binned as the database bins them."""
    counts = [0] * bins.count
    for v in values:
        counts[bisect.bisect_right(bins.edges, v)] += 1
    ordered = sorted(values)
    n = len(ordered)
    middle = None
    if median and n:
        mid = n // 2
        middle = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    mean = round(math.fsum(ordered) / n, _MEAN_DIGITS) if n else None
    return Series(tuple(counts), n, mean, middle)


# (database, assignment id, what) -> (its stamp when read, what was read)
_CACHE: dict[tuple[str, int, str], tuple[tuple[int, datetime | None], Any]] = {}
T = TypeVar("T")
_LOCK = threading.Lock()


#: What the kept figures are checked against: the scored current submissions' number and
#: their latest ``updated_at``.
Stamp = tuple[int, datetime | None]


@dataclass(frozen=True, slots=True)
class Overview:
    """An assignment's current submissions at a glance, from one query."""

    counts: dict[str, int]  # by status, every status present
    reviewed: int  # graded ones an instructor reviewed (waiting for release)
    release_pending: int  # released ones whose newer grade waits for release
    stamp: Stamp


def overview(session: Session, assignment_id: int) -> Overview:
    """Counts by status, reviewed and release-pending counts and the stamp, in one pass."""
    out = {s.value: 0 for s in Status}
    reviewed = pending = scored = 0
    latest: datetime | None = None
    for status, n, seen, waits, changed in session.execute(
        select(
            Submission.status,
            func.count(),
            func.count(case((Submission.reviewed.is_(True), 1))),
            func.count(case((Submission.release_pending == true(), 1))),
            func.max(Submission.updated_at),
        )
        .where(Submission.assignment_id == assignment_id, Submission.current)
        .group_by(Submission.status)
    ):
        status = Status(status)
        out[status.value] = n
        pending += waits
        if status == Status.GRADED:
            reviewed = seen
        if status in _SCORED:
            scored += n
            latest = changed if latest is None or (changed and changed > latest) else latest
    return Overview(out, int(reviewed), int(pending), (scored, latest))


def counts(session: Session, assignment_id: int) -> dict[str, int]:
    """Current submissions by status (every status present, zero where none)."""
    return overview(session, assignment_id).counts


def distributions(
    session: Session,
    assignment_id: int,
    totals: Bins,
    criteria: Mapping[str, Bins],
    stamp: Stamp | None = None,
) -> Distributions:
    """Totals and per-criterion points of the graded and released current submissions, in
    the bins asked for (the rubric's: they are part of what is kept)."""
    key = f"distributions:{totals}:{sorted(criteria.items())}"
    return cached(
        session,
        key,
        assignment_id,
        lambda: _read(session, assignment_id, totals, criteria),
        stamp,
    )


def cached(
    session: Session,
    name: str,
    assignment_id: int,
    compute: Callable[[], T],
    stamp: Stamp | None = None,
) -> T:
    """``compute()``, kept per (database, assignment, name) until any current graded or
    released submission of the assignment changes (count and latest ``updated_at``);
    ``stamp`` is that, when the caller has just read it (:func:`overview`)."""
    if stamp is None:
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


def _read(
    session: Session, assignment_id: int, totals: Bins, criteria: Mapping[str, Bins]
) -> Distributions:
    where = (
        Submission.assignment_id == assignment_id,
        Submission.current,
        Submission.status.in_(_SCORED),
        Submission.total.is_not(None),
    )
    ids = sorted(criteria)
    # Each value read once per row, then counted below each inner bin edge: the bins are
    # the differences. OFFSET 0 keeps PostgreSQL from folding the subquery into the sums,
    # which would extract each criterion from the jsonb once per edge (three times slower).
    read = select(
        case((Submission.points.is_(None), 1)).label("legacy"),
        Submission.total.label("v0"),
        *(Submission.points[cid].as_float().label(f"v{i}") for i, cid in enumerate(ids, 1)),
    ).where(*where)
    values = read.offset(0).subquery()
    all_bins = [totals, *(criteria[cid] for cid in ids)]
    columns: list[Any] = [func.count(values.c.legacy)]
    for i, bins in enumerate(all_bins):
        value = values.c[f"v{i}"]
        columns += [func.count(value), func.sum(value)]
        columns += [func.count(case((value < edge, 1))) for edge in bins.edges]
    row = list(session.execute(select(*columns)).one())
    if row.pop(0):  # rows graded before 0010 keep no points: read them all the old way
        return _read_rows(session, assignment_id, totals, criteria)
    found: list[Series] = []
    for bins in all_bins:
        n, total, below = int(row[0]), row[1], [int(v) for v in row[2 : 1 + bins.count]]
        del row[: 1 + bins.count]
        edges = [0, *below, n]
        counts = tuple(edges[i + 1] - edges[i] for i in range(bins.count))
        mean = round(float(total) / n, _MEAN_DIGITS) if n else None
        found.append(Series(counts, n, mean))
    n = found[0].n
    if n:  # the middle one or two totals, read off the queue's index
        middle = [
            float(v)
            for v in session.scalars(
                select(Submission.total)
                .where(*where)
                .order_by(Submission.total)
                .offset((n - 1) // 2)
                .limit(2 - n % 2)
            )
            if v is not None
        ]
        found[0] = Series(found[0].counts, n, found[0].mean, sum(middle) / len(middle))
    return Distributions(found[0], dict(zip(ids, found[1:], strict=True)))


def _read_rows(
    session: Session, assignment_id: int, totals: Bins, criteria: Mapping[str, Bins]
) -> Distributions:
    """The distributions from every row, for databases with rows graded before 0010."""
    values: list[float] = []
    per: dict[str, list[float]] = {cid: [] for cid in criteria}
    for row in standings(session, assignment_id, _SCORED):
        if row.total is None:
            continue
        values.append(row.total)
        for cid, value in row.points.items():
            if cid in per:
                per[cid].append(value)
    return Distributions(
        series_of(values, totals, median=True),
        {cid: series_of(per[cid], criteria[cid]) for cid in sorted(criteria)},
    )
