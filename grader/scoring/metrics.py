"""Agreement between predicted and human grades: Pearson r, RMSE and quadratic weighted kappa.

Implemented with numpy only, without warnings, so evaluation output is the same everywhere.

QWK rounding: both the human score and the prediction are clipped to ``[lo, hi]`` and rounded
to the nearest multiple of ``step`` above ``lo``, halves rounding up (0.0625 with step 0.125
becomes 0.125); each multiple is one category. :func:`derive_step` picks the step from the
human scores: the coarsest of 1, 1/2, 1/4, 1/8, 1/10, 1/20, 1/40 of a point, scaled to the
scale's maximum when that maximum is 1 or less, on which at least 95% of the scores lie. For
SAF (0 to 1, scored mostly in eighths, a few in tenths) that is 0.125: 97% of the scores are
eighths, and a 0.8 becomes 0.75.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["derive_step", "pearson", "qwk", "rmse", "round_to_step"]

_CANDIDATE_STEPS = (1.0, 0.5, 0.25, 0.125, 0.1, 0.05, 0.025)
_EPS = 1e-9


def _pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=float).ravel()
    b = np.asarray(y_pred, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {a.size} and {b.size}")
    if a.size == 0:
        raise ValueError("y_true must not be empty")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("y_true and y_pred must be finite numbers")
    return a, b


def pearson(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Pearson correlation; NaN when either side is constant (correlation is undefined)."""
    a, b = _pair(y_true, y_pred)
    if a.size < 2:
        raise ValueError("pearson needs at least 2 values")
    da, db = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(da @ da) * float(db @ db))
    if denominator == 0.0:
        return math.nan
    return max(-1.0, min(1.0, float(da @ db) / denominator))


def rmse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Root mean squared error, in the unit of the scores."""
    a, b = _pair(y_true, y_pred)
    return math.sqrt(float(np.mean((a - b) ** 2)))


def round_to_step(values: npt.ArrayLike, *, step: float, lo: float, hi: float) -> np.ndarray:
    """Category index of each value: clipped to [lo, hi], nearest multiple of step, half up."""
    _check_scale(step, lo, hi)
    v = np.clip(np.asarray(values, dtype=float), lo, hi)
    top = int(round((hi - lo) / step))
    return np.clip(np.floor((v - lo) / step + 0.5 + _EPS), 0, top).astype(int)


def qwk(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    step: float,
    lo: float = 0.0,
    hi: float = 1.0,
) -> float:
    """Quadratic weighted kappa after rounding both sides to ``step`` (see module docs).

    When all values of both sides fall in one category the expected disagreement is zero;
    kappa is then 1.0 if they agree perfectly and 0.0 otherwise, instead of undefined.
    """
    a, b = _pair(y_true, y_pred)
    ia = round_to_step(a, step=step, lo=lo, hi=hi)
    ib = round_to_step(b, step=step, lo=lo, hi=hi)
    k = int(round((hi - lo) / step)) + 1
    observed = np.zeros((k, k), dtype=float)
    np.add.at(observed, (ia, ib), 1.0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / a.size
    idx = np.arange(k)
    weights = (idx[:, None] - idx[None, :]) ** 2 / max(1, (k - 1) ** 2)
    disagreement = float((weights * expected).sum())
    if disagreement == 0.0:
        return 1.0 if float((weights * observed).sum()) == 0.0 else 0.0
    return 1.0 - float((weights * observed).sum()) / disagreement


def derive_step(scores: npt.ArrayLike, max_score: float, *, share: float = 0.95) -> float:
    """The coarsest grid step on which at least ``share`` of the human scores lie.

    Candidates are 1, 1/2, 1/4, 1/8, 1/10, 1/20 and 1/40 point on scales up to more than one
    point, or those fractions of ``max_score`` on a 0..1 (or smaller) scale; max_score / 8 if
    none fits.
    """
    if not math.isfinite(max_score) or max_score <= 0:
        raise ValueError(f"max_score must be a positive number, got {max_score!r}")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    s = np.asarray(scores, dtype=float).ravel()
    if s.size == 0:
        raise ValueError("scores must not be empty")
    unit = 1.0 if max_score > 1 else max_score
    for fraction in _CANDIDATE_STEPS:
        step = fraction * unit
        ratio = (max_score / step) % 1.0
        if min(ratio, 1.0 - ratio) > 1e-6:
            continue  # the step must divide the scale evenly
        q = s / step
        on_grid = np.abs(q - np.round(q)) <= 1e-6
        if float(on_grid.mean()) >= share:
            return step
    return max_score / 8.0


def _check_scale(step: float, lo: float, hi: float) -> None:
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive number, got {step!r}")
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"hi must be greater than lo, got lo={lo!r}, hi={hi!r}")
