"""Fit the confidence model on graded answers and print it for ``grader/scoring/confidence.py``.

The target is whether grader's total is within 15 points of the mean of two human graders;
the rows are the course's graded sample and the *development* half of the adversarial set
(the held-out half is never used here). The model is logistic regression on the signals
``score_plan`` records (``Grade.confidence_signals``) plus the number of review reasons,
with an L2 penalty, solved by Newton's method from zero: deterministic, no randomness.

    python bench/fit_confidence.py [--alpha 1.0]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from trust import WRONG, adversarial, graded_sample  # noqa: E402

from grader.scoring import grade_text, load_rubric  # noqa: E402
from grader.scoring.confidence import MODEL  # noqa: E402


def fit(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """L2-penalised logistic regression (intercept unpenalised), Newton iterations."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    penalty = alpha * np.eye(xb.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + penalty @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=1.0)
    args = parser.parse_args()
    rubric = load_rubric(ROOT / "rubrics" / "ml-health-check.toml")
    names = list(MODEL.coefficients)
    rows, targets = [], []
    for _, _, path, human in adversarial("dev") + graded_sample():
        g = grade_text(path.read_text(encoding="utf-8"), rubric)
        rows.append([g.confidence_signals.get(n, 0.0) for n in names] + [len(g.review_reasons)])
        targets.append(1.0 if abs(g.total - human) <= WRONG else 0.0)
    x, y = np.array(rows), np.array(targets)
    w = fit(x, y, args.alpha)
    print(f"{len(y)} answers, {int(len(y) - y.sum())} off by more than {WRONG:g}")
    print("MODEL = Model(")
    print(f"    intercept={w[0]:.3f},")
    print("    coefficients={")
    for n, c in zip(names, w[1:-1], strict=True):
        print(f'        "{n}": {c:.3f},')
    print("    },")
    print(f"    reason_odds={math.exp(w[-1]):.3f},")
    print(")")


if __name__ == "__main__":
    main()
