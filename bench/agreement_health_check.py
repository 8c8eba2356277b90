"""Agreement of grader with the two human graders on the graded health-check answers.

Prints Pearson r and mean absolute error per criterion and for the total, against the mean of
the two graders, and the totals of the gaming answers (which must stay at or under 15/100).

    python bench/agreement_health_check.py [--rubric rubrics/ml-health-check.toml]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from statistics import mean

import numpy as np

from grader.scoring import grade_text, load_rubric

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rubric", default=str(ROOT / "rubrics" / "ml-health-check.toml"))
    args = parser.parse_args()
    rubric = load_rubric(args.rubric)
    human: dict[str, dict[str, list[float]]] = {}
    with open(DATA / "health-check" / "grades.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    keys = [c.id for c in rubric.criteria] + ["total"]
    for row in rows:
        entry = human.setdefault(row["file"], {k: [] for k in keys})
        for k in keys:
            entry[k].append(float(row[k]))
    ours: dict[str, dict[str, float]] = {}
    print(f"rubric {rubric.id}@{rubric.version}, {len(human)} answers, 2 graders each\n")
    print(f"{'file':<12}{'grader':>8}{'humans':>8}  flags")
    for name in sorted(human):
        g = grade_text((DATA / "health-check" / name).read_text(), rubric)
        ours[name] = {c.id: c.points for c in g.criteria} | {"total": g.total}
        print(f"{name:<12}{g.total:>8.1f}{mean(human[name]['total']):>8.1f}  {','.join(g.flags)}")
    print(f"\n{'criterion':<24}{'pearson r':>10}{'MAE':>8}{'grader A vs B r':>18}")
    for k in keys:
        a = np.array([ours[f][k] for f in sorted(human)])
        h = np.array([mean(human[f][k]) for f in sorted(human)])
        ga = np.array([human[f][k][0] for f in sorted(human)])
        gb = np.array([human[f][k][1] for f in sorted(human)])
        print(
            f"{k:<24}{np.corrcoef(a, h)[0, 1]:>10.3f}{np.mean(np.abs(a - h)):>8.2f}"
            f"{np.corrcoef(ga, gb)[0, 1]:>18.3f}"
        )
    print("\ngaming answers (must be <= 15/100):")
    worst = 0.0
    for path in sorted((DATA / "gaming").glob("*.md")):
        g = grade_text(path.read_text(), rubric)
        worst = max(worst, g.total)
        print(f"  {path.name:<28}{g.total:>6.1f}  {','.join(g.flags)}")
    print(f"  highest: {worst:.1f}")


if __name__ == "__main__":
    main()
