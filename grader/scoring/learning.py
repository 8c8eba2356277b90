"""Learning from instructors: a per-assignment calibration fitted on reviewed grades, and
grade intervals from its out-of-fold errors.

Every grade an instructor overrode or confirmed is a label: the grader's points per
criterion beside the instructor's. :func:`fit` turns labels into a :class:`Calibration`:

* **Per criterion, a clipped linear map** from the grader's points to the instructor's,
  ``points' = clip(a + b * points, 0, max)``, fitted by least squares and shrunk toward "no
  change" (``a = 0, b = 1``) by ``n / (n + SHRINK)``: with few labels it barely moves. A map is
  kept only when it beats the uncalibrated points out of fold (deterministic K-fold: an
  answer's prediction never comes from a fit that saw it); otherwise it stays the identity
  and says why. Below ``min_labels`` nothing is mapped.
* **Split-conformal intervals** for the total (and per criterion once there are enough
  labels): the out-of-fold residuals, scaled by how unsure the grader said it was
  (``1 + UNSURE * (1 - confidence)``), give the quantile ``q`` at the stated level; an
  answer's interval is ``total +- q * scale``, clipped to the scale. Coverage holds on
  average over answers like the labelled ones (exchangeability), which is what the
  interval's ``source`` says it rests on.
* **A floor from held-out answers.** Labels on answers the grader was tuned on (a course's
  public graded sample) show smaller errors than new answers will: a rubric may list the
  grader's scaled errors on answers it was *not* tuned on (``[intervals] held_out_errors``),
  and until there are ``TRUST_LABELS`` labels the quantile is never below theirs. Labels can
  widen an interval at once; narrowing it below the held-out floor takes many of them.

Everything is deterministic: folds come from the labels' keys, and a calibration's
``version`` is a hash of what it holds, so the same answer, rubric version and calibration
version always get the same grade and interval.

Long because: the fit, the intervals, the calibration file's format (with its checks) and
the grades file it is fitted from are one feature whose parts change together.

>>> labels = [Label(f"a{i}", {"c": g}, {"c": g + 2}, 0.9) for i, g in enumerate(range(0, 20))]
>>> cal = fit(labels, {"c": 25.0}, rubric_version="r1")
>>> round(cal.apply({"c": 10.0}, 0.9).points["c"], 1)
11.3
>>> cal.apply({"c": 10.0}, 0.9).interval.source
'calibration'
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .confidence import RELEASE_LEVEL, ReviewReason

if TYPE_CHECKING:
    from .rubric import Rubric
    from .score import Grade

__all__ = [
    "DEFAULT_LEVEL",
    "MIN_LABELS",
    "Applied",
    "Calibration",
    "CriterionMap",
    "Interval",
    "Label",
    "apply_to",
    "fit",
    "from_held_out",
    "read_grades",
]

#: The interval level when none is asked for.
DEFAULT_LEVEL = 0.9
#: Labels below which nothing is mapped and intervals say they rest on few labels.
MIN_LABELS = 15
#: Labels from which the intervals rest on the labels alone (no held-out floor).
TRUST_LABELS = 60
#: Shrinkage toward "no change": the fitted map counts n / (n + SHRINK).
SHRINK = 10.0
#: How much wider an interval is for an answer the grader is unsure of.
UNSURE = 2.0
#: "Right" means within this share of the points of an instructor's total (15 of 100).
WITHIN = 0.15
_FOLDS = 10
_KIND = "instructor-calibration"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Label:
    """One reviewed answer: the grader's points and the instructor's, per criterion."""

    key: str  # a stable name (file, submission id): it decides the folds
    grader: Mapping[str, float]
    instructor: Mapping[str, float]
    confidence: float  # the grader's confidence in its grade


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float
    level: float
    source: str  # "calibration" (enough labels) or "few labels"

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "level": self.level, "source": self.source}


@dataclass(frozen=True, slots=True)
class CriterionMap:
    """points' = clip(intercept + slope * points, 0, max_points), or the identity."""

    criterion: str
    max_points: float
    intercept: float = 0.0
    slope: float = 1.0
    applied: bool = False
    reason: str = ""
    mae_before: float | None = None  # out of fold, on the labels
    mae_after: float | None = None

    def apply(self, points: float) -> float:
        if not self.applied:
            return points
        return min(self.max_points, max(0.0, self.intercept + self.slope * points))


@dataclass(frozen=True, slots=True)
class Applied:
    """A grade after calibration: points per criterion, the total and its interval."""

    points: dict[str, float]
    total: float
    interval: Interval
    criteria_intervals: dict[str, Interval] = field(default_factory=dict)
    # The probability that the instructors' total is within WITHIN of this one, measured on
    # the labels' out-of-fold errors (with the held-out ones while they floor the interval).
    within: float | None = None


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration for one rubric version (see the module's docstring)."""

    rubric_version: str
    level: float
    labels: int
    maps: tuple[CriterionMap, ...]
    quantile: float  # of the scaled out-of-fold |residuals| of the total
    criterion_quantiles: Mapping[str, float] = field(default_factory=dict)
    figures: Mapping[str, Any] = field(default_factory=dict)
    scores: tuple[float, ...] = ()  # the scaled out-of-fold |errors| (sorted), for `within`

    @property
    def max_total(self) -> float:
        return sum(m.max_points for m in self.maps)

    @property
    def source(self) -> str:
        """What the intervals rest on: the labels, few labels, or the rubric's held-out
        answers (when their errors were the larger)."""
        if self.figures.get("quantile_held_out", 0.0) > self.figures.get("quantile_labels", 0.0):
            return "held-out answers"
        return "calibration" if self.labels >= MIN_LABELS else "few labels"

    @property
    def applied(self) -> bool:
        return any(m.applied for m in self.maps)

    @property
    def version(self) -> str:
        """A hash of what the calibration holds: part of every grade it produced."""
        body = json.dumps(self._content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:12]

    def apply(self, grader_points: Mapping[str, float], confidence: float) -> Applied:
        """The grade's points mapped, its total and the interval around it."""
        points = {
            m.criterion: round(m.apply(float(grader_points[m.criterion])), 2) for m in self.maps
        }
        total = round(sum(points.values()), 2)
        scale = _scale(confidence)
        interval = _interval(total, self.quantile * scale, self.max_total, self.level, self.source)
        per = {
            m.criterion: _interval(
                points[m.criterion],
                self.criterion_quantiles[m.criterion] * scale,
                m.max_points,
                self.level,
                self.source,
            )
            for m in self.maps
            if m.criterion in self.criterion_quantiles
        }
        within = None
        if self.scores:
            limit = WITHIN * self.max_total / scale
            inside = bisect_right(self.scores, limit)
            within = round((inside + 0.5) / (len(self.scores) + 1), 3)
        return Applied(points, total, interval, per, within)

    # -- serialisation ---------------------------------------------------------------------

    def _content(self) -> dict[str, Any]:
        return {
            "kind": _KIND,
            "format": _FORMAT,
            "rubric_version": self.rubric_version,
            "level": self.level,
            "labels": self.labels,
            "quantile": round(self.quantile, 6),
            "scores": [round(v, 4) for v in self.scores],
            "criterion_quantiles": {
                k: round(v, 6) for k, v in sorted(self.criterion_quantiles.items())
            },
            "maps": [
                {
                    "criterion": m.criterion,
                    "max_points": m.max_points,
                    "intercept": round(m.intercept, 6),
                    "slope": round(m.slope, 6),
                    "applied": m.applied,
                    "reason": m.reason,
                    "mae_before": m.mae_before,
                    "mae_after": m.mae_after,
                }
                for m in self.maps
            ],
            "figures": dict(self.figures),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self._content(), "version": self.version}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Inverse of :meth:`to_dict`; raises ValueError naming what is wrong."""
        if not isinstance(data, Mapping) or data.get("kind") != _KIND:
            raise ValueError(f"not a calibration file (kind must be {_KIND!r})")
        if data.get("format") != _FORMAT:
            raise ValueError(f"calibration format must be {_FORMAT}, got {data.get('format')!r}")
        try:
            maps = tuple(
                CriterionMap(
                    str(m["criterion"]),
                    float(m["max_points"]),
                    float(m["intercept"]),
                    float(m["slope"]),
                    bool(m["applied"]),
                    str(m.get("reason", "")),
                    m.get("mae_before"),
                    m.get("mae_after"),
                )
                for m in data["maps"]
            )
            found = cls(
                str(data["rubric_version"]),
                float(data["level"]),
                int(data["labels"]),
                maps,
                float(data["quantile"]),
                {str(k): float(v) for k, v in data.get("criterion_quantiles", {}).items()},
                dict(data.get("figures", {})),
                tuple(float(v) for v in data.get("scores", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"calibration file is malformed: {exc}") from None
        if "version" in data and data["version"] != found.version:
            raise ValueError("calibration file was changed after it was fitted (version differs)")
        return found


# -- applying to a grade -------------------------------------------------------------------


def apply_to(grade: Grade, calibration: Calibration) -> Grade:
    """The grade with the calibration's points, total and interval; each criterion keeps
    the grader's own points in ``signals["grader_points"]`` (what later labels pair with)."""
    raw = {c.id: float(c.signals.get("grader_points", c.points)) for c in grade.criteria}
    applied = calibration.apply(raw, grade.confidence)
    criteria = [
        replace(c, points=applied.points[c.id], signals={**c.signals, "grader_points": raw[c.id]})
        for c in grade.criteria
    ]
    confidence, reasons = grade.confidence, grade.review_reasons
    if calibration.labels and applied.within is not None:
        # Calibrated: the confidence is the measured chance of being within 15 points. A
        # grade with review reasons stays below the release level whatever it says.
        confidence = applied.within
        if reasons:
            confidence = min(confidence, RELEASE_LEVEL - 0.01)
        elif confidence < RELEASE_LEVEL:
            reasons = [ReviewReason.of("interval", f"{confidence:.0%}").to_dict()]
    return replace(
        grade,
        total=applied.total,
        criteria=criteria,
        confidence=confidence,
        review_reasons=reasons,
        interval=applied.interval.to_dict() | _per_criterion(applied),
        calibration_version=calibration.version if calibration.labels else "",
        # The grader's own confidence stays with the grade: later labels pair with it.
        grader_confidence=grade.confidence,
    )


def _per_criterion(applied: Applied) -> dict[str, Any]:
    """Each criterion's interval, where the labels allow one (``MIN_LABELS``)."""
    if not applied.criteria_intervals:
        return {}
    return {
        "criteria": {
            cid: {"low": i.low, "high": i.high} for cid, i in applied.criteria_intervals.items()
        }
    }


def from_held_out(rubric: Rubric, level: float = DEFAULT_LEVEL) -> Calibration | None:
    """The calibration of an assignment no instructor has calibrated yet: no maps, and
    intervals from the rubric's held-out errors (None when it lists none)."""
    if not rubric.held_out_errors:
        return None
    maps = tuple(CriterionMap(c.id, float(c.points)) for c in rubric.criteria)
    floor = _conformal(rubric.held_out_errors, level)
    figures = {"quantile_labels": 0.0, "quantile_held_out": round(floor, 4)}
    return Calibration(rubric.version, level, 0, maps, floor, {}, figures)


# -- labels from a grades file -------------------------------------------------------------


def read_grades(
    path: str | os.PathLike[str], criteria: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Instructors' points per answer file from a TSV file (a ``file`` column and one column
    per criterion id; several rows for one file, one per grader, are averaged). Raises
    ValueError naming the file, line and column of the first problem."""
    where = str(path)
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows:
        raise ValueError(f"{where}: empty")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("file", *criteria) if c not in header]
    if missing:
        raise ValueError(f"{where}:1: missing column {missing[0]!r}")
    column = {name: header.index(name) for name in ("file", *criteria)}
    sums: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ValueError(f"{where}:{lineno}: {len(row)} columns, the header has {len(header)}")
        name = row[column["file"]].strip()
        if not name:
            raise ValueError(f"{where}:{lineno}: column 'file' is empty")
        entry = sums.setdefault(name, dict.fromkeys(criteria, 0.0))
        for c in criteria:
            raw = row[column[c]].strip()
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(
                    f"{where}:{lineno}: column {c!r}: {raw!r} is not a number"
                ) from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{where}:{lineno}: column {c!r}: {raw!r} is not points")
            entry[c] += value
        counts[name] = counts.get(name, 0) + 1
    return {name: {c: v / counts[name] for c, v in entry.items()} for name, entry in sums.items()}


# -- fitting -------------------------------------------------------------------------------


def fit(
    labels: Sequence[Label],
    max_points: Mapping[str, float],
    *,
    rubric_version: str,
    level: float = DEFAULT_LEVEL,
    min_labels: int = MIN_LABELS,
    held_out: Sequence[float] = (),
) -> Calibration:
    """Fit the per-criterion maps and the interval quantiles on ``labels``; ``held_out``
    (a rubric's ``held_out_errors``) floors the total's quantile below ``TRUST_LABELS``."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    if not labels:
        raise ValueError("labels must hold at least one reviewed answer")
    criteria = list(max_points)
    for label in labels:
        missing = [c for c in criteria if c not in label.grader or c not in label.instructor]
        if missing:
            raise ValueError(f"label {label.key!r} lacks points for {', '.join(missing)}")
    ordered = sorted(labels, key=lambda lb: hashlib.sha256(lb.key.encode()).hexdigest())
    n = len(ordered)
    folds = [i % min(_FOLDS, n) for i in range(n)]
    maps = []
    oof: dict[str, list[float]] = {}
    for c in criteria:
        g = [float(lb.grader[c]) for lb in ordered]
        y = [float(lb.instructor[c]) for lb in ordered]
        cap = float(max_points[c])
        predicted = []
        for i in range(n):
            train = [j for j in range(n) if folds[j] != folds[i]]
            a, b = (
                _shrunk_fit([g[j] for j in train], [y[j] for j in train]) if train else (0.0, 1.0)
            )
            predicted.append(min(cap, max(0.0, a + b * g[i])))
        before = _mae(g, y)
        after = _mae(predicted, y)
        a, b = _shrunk_fit(g, y)
        if n < min_labels:
            maps.append(
                CriterionMap(
                    c,
                    cap,
                    a,
                    b,
                    False,
                    f"{n} labels; at least {min_labels} are needed",
                    before,
                    after,
                )
            )
            oof[c] = g
        elif after >= before:
            maps.append(
                CriterionMap(
                    c,
                    cap,
                    a,
                    b,
                    False,
                    "would not beat the uncalibrated points out of fold",
                    before,
                    after,
                )
            )
            oof[c] = g
        else:
            maps.append(CriterionMap(c, cap, a, b, True, "", before, after))
            oof[c] = predicted
    totals = [sum(oof[c][i] for c in criteria) for i in range(n)]
    truth = [sum(float(lb.instructor[c]) for c in criteria) for lb in ordered]
    raw = [sum(float(lb.grader[c]) for c in criteria) for lb in ordered]
    scales = [_scale(lb.confidence) for lb in ordered]
    quantile = _conformal(
        [abs(t - p) / s for t, p, s in zip(truth, totals, scales, strict=True)], level
    )
    floor = _conformal(held_out, level) if held_out and n < TRUST_LABELS else 0.0
    per = {}
    if n >= min_labels:
        for c in criteria:
            residuals = [
                abs(float(lb.instructor[c]) - oof[c][i]) / scales[i] for i, lb in enumerate(ordered)
            ]
            per[c] = _conformal(residuals, level)
            if floor > quantile:
                # While the held-out errors floor the total's interval, each criterion's
                # is floored by its share of them too: few labels, honest widths.
                top = sum(float(v) for v in max_points.values()) or 1.0
                per[c] = max(per[c], floor * float(max_points[c]) / top)
    figures = {
        "mae_total_before": round(_mae(raw, truth), 3),
        "mae_total_after": round(_mae(totals, truth), 3),
        "quantile_labels": round(quantile, 4),
        "quantile_held_out": round(floor, 4),
    }
    scores = [abs(t - p) / s for t, p, s in zip(truth, totals, scales, strict=True)]
    if floor:
        scores += list(held_out)
    return Calibration(
        rubric_version,
        level,
        n,
        tuple(maps),
        max(quantile, floor),
        per,
        figures,
        tuple(sorted(round(v, 4) for v in scores)),
    )


def _shrunk_fit(g: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least squares y ~ a + b g, pulled toward (0, 1) by n / (n + SHRINK)."""
    n = len(g)
    if n < 2:
        return 0.0, 1.0
    mg, my = sum(g) / n, sum(y) / n
    var = sum((x - mg) ** 2 for x in g)
    b = sum((x - mg) * (v - my) for x, v in zip(g, y, strict=True)) / var if var > 0 else 1.0
    a = my - b * mg
    w = n / (n + SHRINK)
    return w * a, w * b + (1 - w)


def _conformal(scores: Sequence[float], level: float) -> float:
    """The split-conformal quantile: the ceil((n + 1) level)-th smallest score (the largest
    when that rank is past n, so a few labels give wide, honest intervals)."""
    ranked = sorted(scores)
    k = math.ceil((len(ranked) + 1) * level)
    return ranked[min(k, len(ranked)) - 1]


def _scale(confidence: float) -> float:
    return 1.0 + UNSURE * (1.0 - min(1.0, max(0.0, confidence)))


def _interval(center: float, half: float, top: float, level: float, source: str) -> Interval:
    return Interval(
        round(max(0.0, center - half), 1), round(min(top, center + half), 1), level, source
    )


def _mae(a: Sequence[float], b: Sequence[float]) -> float:
    return round(sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a), 4)
