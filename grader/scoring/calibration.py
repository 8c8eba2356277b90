"""Serialisable calibration: named features -> fraction of the points.

The form is deliberately simple so that a fitted calibration can live inside a rubric file
(TOML or JSON) and be applied at grade time with a few multiplications, no scikit-learn:

    fraction = clip(intercept + sum(coefficients[name] * features[name]), 0, 1)
    fraction = 0                  if any features[name] >= 0.5 for name in zero_when

``zero_when`` names indicator features that pin the grade to zero whatever else the features
say; by default ``empty`` (blank or "No response."), ``unrelated`` (no concept of any
reference and hardly a word in common with them) and ``question_copy`` (the question
restated, nothing added). Those answers are left out of the fit, so they do not bend the
line fitted to real answers. An answer that is about the question yet names none of the
references' concepts (``off_topic`` without ``unrelated``) is ambiguous evidence, other words
or nothing right, so it gets at least :data:`UNMATCHED_FRACTION` provisionally (and goes to
review; :mod:`grader.scoring.grade`). Points are ``fraction * points``.

The default calibration (:data:`DEFAULT_CALIBRATION`) uses three features of
:mod:`grader.scoring.reference`: ``coverage_log`` and ``coverage`` (together a concave curve
of the share of the reference's concepts covered) and ``bigram_coverage`` (the reference's
word pairs said as such). Out of fold on SAF (leave one question out) this is the smallest set
whose error is below the TF-IDF baseline's in every question; ``coverage_log`` alone missed it
on one (2.2, where nearly everyone got full marks); three coefficients cannot overfit 16
questions.

:meth:`LinearCalibration.fit` is ridge regression on standardised features (intercept not
penalised), solved in closed form and stored as coefficients on the raw feature scale, so
fitting is deterministic and the stored numbers read directly.

>>> cal = LinearCalibration.fit([{"x": 0.0}, {"x": 1.0}, {"x": 2.0}], [0.0, 0.5, 1.0],
...                             features=("x",), alpha=0.0, zero_when=())
>>> round(cal.predict_one({"x": 1.5}), 3)
0.75
>>> LinearCalibration.from_dict(cal.to_dict()) == cal
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

__all__ = [
    "DEFAULT_CALIBRATION",
    "DEFAULT_FEATURES",
    "DEFAULT_ZERO_WHEN",
    "UNMATCHED_FRACTION",
    "LinearCalibration",
    "unmatched",
]

#: Features the default grader calibrates on; see ``bench/agreement_saf.py`` for why.
DEFAULT_FEATURES: tuple[str, ...] = ("coverage_log", "coverage", "bigram_coverage")
#: Indicator features that pin the grade to zero: blank answers, answers sharing no concept
#: with the references, and copies of the question.
DEFAULT_ZERO_WHEN: tuple[str, ...] = ("empty", "unrelated", "question_copy")
#: The least share of the points for an answer about the question that names none of the
#: references' concepts: on SAF train humans gave such answers 0.22 on average (half of them
#: 0.5), and on another public set 0.64; the line alone would give them about 0.
UNMATCHED_FRACTION = 0.25

_KIND = "linear"
_VERSION = 1


@dataclass(frozen=True)
class LinearCalibration:
    """A clipped linear map from named features to a fraction of the points."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    zero_when: tuple[str, ...] = DEFAULT_ZERO_WHEN

    def __post_init__(self) -> None:
        if not self.features:
            raise ValueError("features must name at least one feature")
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"features must be distinct, got {self.features!r}")
        if len(self.coefficients) != len(self.features):
            raise ValueError(
                f"coefficients must have one value per feature ({len(self.features)}), "
                f"got {len(self.coefficients)}"
            )
        values = (*self.coefficients, self.intercept)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise ValueError("coefficients and intercept must be finite numbers")

    # -- fitting ---------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        rows: Sequence[Mapping[str, float]],
        targets: Sequence[float] | np.ndarray,
        *,
        features: Sequence[str] = DEFAULT_FEATURES,
        alpha: float = 1.0,
        zero_when: Sequence[str] = DEFAULT_ZERO_WHEN,
    ) -> LinearCalibration:
        """Fit on feature rows and target fractions (score / max_score) by ridge regression.

        ``alpha`` is the L2 penalty on standardised coefficients; rows flagged by
        ``zero_when`` are excluded because the calibration pins them to zero anyway.
        """
        features = tuple(features)
        zero_when = tuple(zero_when)
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
        if len(rows) != len(targets):
            raise ValueError(
                f"rows and targets must have the same length, got {len(rows)} and {len(targets)}"
            )
        keep = [i for i, row in enumerate(rows) if not _flagged(row, zero_when)]
        if len(keep) < 2:
            raise ValueError("rows must contain at least 2 rows not flagged by zero_when")
        x = np.array([[_value(rows[i], f) for f in features] for i in keep], dtype=float)
        y = np.array([float(targets[i]) for i in keep], dtype=float)
        if not np.all(np.isfinite(y)):
            raise ValueError("targets must be finite numbers")
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        z = (x - mean) / scale
        gram = z.T @ z + alpha * np.eye(len(features))
        rhs = z.T @ (y - y.mean())
        # lstsq instead of solve: a constant feature with alpha=0 leaves gram singular.
        beta = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        coef = beta / scale
        intercept = float(y.mean() - coef @ mean)
        return cls(features, tuple(float(c) for c in coef), intercept, zero_when)

    # -- prediction ------------------------------------------------------------------------

    def predict_one(self, features: Mapping[str, float]) -> float:
        """Fraction of the points, in [0, 1], for one answer's features."""
        if _flagged(features, self.zero_when):
            return 0.0
        value = self.intercept + sum(
            c * _value(features, f) for f, c in zip(self.features, self.coefficients, strict=True)
        )
        if unmatched(features, self.zero_when):
            value = max(value, UNMATCHED_FRACTION)
        return min(1.0, max(0.0, value))

    def predict(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.array([self.predict_one(row) for row in rows], dtype=float)

    def points(self, features: Mapping[str, float], points: float) -> float:
        """Points in [0, points] for one answer's features."""
        if not math.isfinite(points) or points < 0:
            raise ValueError(f"points must be a finite number >= 0, got {points!r}")
        return self.predict_one(features) * points

    # -- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str keys, floats and lists) for a JSON or TOML rubric file."""
        return {
            "kind": _KIND,
            "version": _VERSION,
            "intercept": self.intercept,
            "coefficients": dict(zip(self.features, self.coefficients, strict=True)),
            "zero_when": list(self.zero_when),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearCalibration:
        """Inverse of :meth:`to_dict`; raises ValueError naming the offending key."""
        if not isinstance(data, Mapping):
            raise ValueError(f"calibration must be a mapping, got {type(data).__name__}")
        if data.get("kind", _KIND) != _KIND:
            raise ValueError(f"calibration.kind must be {_KIND!r}, got {data.get('kind')!r}")
        if data.get("version", _VERSION) != _VERSION:
            raise ValueError(f"calibration.version must be {_VERSION}, got {data.get('version')!r}")
        unknown = set(data) - {"kind", "version", "intercept", "coefficients", "zero_when"}
        if unknown:
            raise ValueError(f"calibration has unknown keys: {sorted(unknown)}")
        coefficients = data.get("coefficients")
        if not isinstance(coefficients, Mapping) or not coefficients:
            raise ValueError("calibration.coefficients must be a non-empty mapping of numbers")
        for name, value in coefficients.items():
            if not isinstance(name, str) or not _is_number(value):
                raise ValueError(f"calibration.coefficients[{name!r}] must be a number")
        intercept = data.get("intercept")
        if not _is_number(intercept):
            raise ValueError(f"calibration.intercept must be a number, got {intercept!r}")
        zero_when = data.get("zero_when", list(DEFAULT_ZERO_WHEN))
        if not isinstance(zero_when, list | tuple) or not all(
            isinstance(z, str) for z in zero_when
        ):
            raise ValueError("calibration.zero_when must be a list of feature names")
        return cls(
            tuple(coefficients),
            tuple(float(v) for v in coefficients.values()),
            float(intercept),
            tuple(zero_when),
        )


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _value(row: Mapping[str, float], name: str) -> float:
    try:
        return float(row[name])
    except KeyError:
        raise ValueError(f"features lack {name!r}") from None


def unmatched(features: Mapping[str, float], zero_when: Sequence[str] = DEFAULT_ZERO_WHEN) -> bool:
    """Sharing no concept with the references (``off_topic``) yet not pinned to zero by
    ``zero_when`` (the calibration's): about the question, in other words or none right."""
    return _flagged(features, ("off_topic",)) and not _flagged(features, zero_when)


def _flagged(row: Mapping[str, float], names: Sequence[str]) -> bool:
    return any(float(row.get(n, 0.0)) >= 0.5 for n in names)


#: Fitted on all 1,476 answers of SAF (English) train; used when a rubric stores no calibration.
DEFAULT_CALIBRATION = LinearCalibration(
    features=DEFAULT_FEATURES,
    coefficients=(1.370231, -0.285282, 0.218745),
    intercept=-0.137157,
)
