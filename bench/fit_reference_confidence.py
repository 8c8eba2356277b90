"""Fit the reference-answer kind's confidence model on SAF and print it for
``grader/scoring/confidence.py`` (``REFERENCE_MODEL``), with how well it holds out of fold.

The target is whether grader's grade is within 15% of the points of the human score, for
grades predicted out of fold (leave one question group out, as ``grader evaluate`` does), so
the model sees grades of questions the calibration never saw. The signals are the grade's
fraction ``f`` and its distance from the middle, ``d = |2f - 1|`` and ``d2 = d**2``: humans
give SAF answers whole, half or no marks, and a grade between them is rarely within 15% of
any. Logistic regression with an L2 penalty, solved by Newton's method from zero
(deterministic). It then refits the model leaving each group out in turn and prints, over
those nested predictions, the expected calibration error and how many grades at confidence
>= 0.8 are off by more than 15%, beside the same figures for the formula used before.

    python bench/fit_reference_confidence.py [--alpha 1.0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fit_confidence import fit  # noqa: E402

from grader.scoring.confidence import REFERENCE_MODEL, reference_signals  # noqa: E402
from grader.scoring.evaluate import evaluate_dataset, load_dataset  # noqa: E402

DATASET = ROOT / "tests" / "data" / "saf-en" / "train.jsonl"
WITHIN = 0.15
LEVEL = 0.8


def ece(p: np.ndarray, ok: np.ndarray, bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        m = (p >= b / bins) & ((p < (b + 1) / bins) if b < bins - 1 else (p <= 1.0))
        if m.any():
            total += m.sum() / len(p) * abs(p[m].mean() - ok[m].mean())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=1.0)
    args = parser.parse_args()
    records = load_dataset(DATASET)
    report = evaluate_dataset(records, baseline=False)
    fraction = np.array([p / r.max_score for p, r in zip(report.predictions, records, strict=True)])
    human = np.array([r.score / r.max_score for r in records])
    groups = np.array([r.group for r in records])
    names = list(REFERENCE_MODEL.coefficients)
    x = np.array([[reference_signals(float(f))[n] for n in names] for f in fraction])
    ok = (np.abs(fraction - human) <= WITHIN + 1e-9).astype(float)

    w = fit(x, ok, args.alpha)
    print(f"{len(ok)} answers, {int(len(ok) - ok.sum())} off by more than {WITHIN:.0%}")
    print("REFERENCE_MODEL = Model(")
    print(f"    intercept={w[0]:.3f},")
    print("    coefficients={")
    for n, c in zip(names, w[1:], strict=True):
        print(f'        "{n}": {c:.3f},')
    print("    },")
    print(f"    reason_odds={REFERENCE_MODEL.reason_odds},")
    print(")")

    nested = np.zeros(len(ok))
    for g in sorted(set(groups.tolist())):
        test = groups == g
        wg = fit(x[~test], ok[~test], args.alpha)
        nested[test] = 1.0 / (1.0 + np.exp(-(wg[0] + x[test] @ wg[1:])))
    before = 0.55 + 0.4 * np.abs(2 * fraction - 1)
    print(f"\nout of fold (the model refitted without each group), {len(ok)} answers:")
    print(f"{'':28}{'ECE':>8}{'conf >= 0.8':>14}{'off by > 15%':>15}")
    for label, p in (("fitted model", nested), ("0.55 + 0.4 |2f - 1| (before)", before)):
        hi = p >= LEVEL
        wrong = int((ok[hi] == 0).sum())
        share = wrong / hi.sum() if hi.any() else 0.0
        print(f"{label:28}{ece(p, ok):>8.3f}{int(hi.sum()):>14}{wrong:>9} ({share:.1%})")


if __name__ == "__main__":
    main()
