"""Does grader learn from instructors? Learning curves of the per-assignment calibration.

Labels (reviewed answers) arrive in a random order, in batches. After each batch the
calibration (:func:`grader.scoring.learning.fit`) is fitted on the labels so far and applied
to the answers not yet labelled; the script reports, averaged over 20 orders (seeded, so the
figures repeat):

- MAE on the unlabelled answers, calibrated and not (points of 100, or of the question);
- the empirical coverage of the stated-level intervals, and their mean width.

Sets: the course's graded sample (``tests/data/health-check``, 23 answers; the mean of two
graders as the truth) and each question of SAF train (reference kind; the mean over
questions), labels only (no held-out floor). Then a calibration fitted on all 23 graded
answers applied to the adversarial set's 24 ordinary answers (``tests/data/adversarial``),
without and with a held-out floor (see ``grader.scoring.learning``).

    python bench/learning.py [--orders 20] [--level 0.9] [--png docs/learning-curve.png]

``--png`` draws the curves (needs matplotlib: ``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import defaultdict
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.scoring import grade_text, load_rubric  # noqa: E402
from grader.scoring.evaluate import load_dataset  # noqa: E402
from grader.scoring.learning import Calibration, Label, _scale, fit, read_grades  # noqa: E402
from grader.scoring.rubric import reference_rubric  # noqa: E402

DATA = ROOT / "tests" / "data"
RUBRIC = ROOT / "rubrics" / "ml-health-check.toml"


def health_labels(
    folder: Path, names: list[str] | None = None
) -> tuple[list[Label], dict[str, float]]:
    rubric = load_rubric(RUBRIC)
    criteria = {c.id: c.points for c in rubric.criteria}
    grades = read_grades(folder / "grades.tsv", list(criteria))
    labels = []
    for name in sorted(grades):
        if names is not None and name not in names:
            continue
        path = folder / name if (folder / name).exists() else folder / "answers" / name
        g = grade_text(path.read_text(encoding="utf-8"), rubric)
        labels.append(Label(name, {c.id: c.points for c in g.criteria}, grades[name], g.confidence))
    return labels, criteria


def saf_labels() -> list[tuple[list[Label], dict[str, float]]]:
    """One label set per SAF question (its rubric: the reference answers)."""
    by_question: dict[tuple[str, tuple[str, ...]], list] = defaultdict(list)
    for r in load_dataset(DATA / "saf-en" / "train.jsonl"):
        by_question[(r.question, r.reference_answers)].append(r)
    out = []
    for (question, references), records in sorted(by_question.items()):
        rubric = reference_rubric(list(references), question=question, points=records[0].max_score)
        cid = rubric.criteria[0].id
        labels = []
        for r in records:
            g = grade_text(r.answer, rubric)
            labels.append(Label(r.id, {cid: g.total}, {cid: r.score}, g.confidence))
        out.append((labels, {cid: records[0].max_score}))
    return out


def measured(cal: Calibration, answers: list[Label]) -> dict[str, float]:
    """A calibration on answers it was not fitted on: MAE before and after, the share of
    instructors' totals inside the intervals, and their mean width."""
    before, after, covered, width = [], [], [], []
    for lb in answers:
        applied = cal.apply(lb.grader, lb.confidence)
        truth = sum(lb.instructor.values())
        before.append(abs(sum(lb.grader.values()) - truth))
        after.append(abs(applied.total - truth))
        covered.append(applied.interval.low <= truth <= applied.interval.high)
        width.append(applied.interval.high - applied.interval.low)
    return {
        "mae_before": mean(before),
        "mae_after": mean(after),
        "coverage": mean(covered),
        "width": mean(width),
    }


def curve(
    labels: list[Label], criteria: dict[str, float], batches: list[int], orders: int, level: float
) -> dict[int, dict[str, float]]:
    """Per labelled count: MAE before/after on the rest, interval coverage and width."""
    rows: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
    for seed in range(orders):
        order = labels[:]
        random.Random(seed).shuffle(order)
        for k in batches:
            if k >= len(order):
                break
            seen, rest = order[:k], order[k:]
            f = measured(fit(seen, criteria, rubric_version="bench", level=level), rest)
            rows[k].append((f["mae_before"], f["mae_after"], f["coverage"], f["width"]))
    return {
        k: {
            "mae_before": mean(r[0] for r in v),
            "mae_after": mean(r[1] for r in v),
            "coverage": mean(r[2] for r in v),
            "width": mean(r[3] for r in v),
        }
        for k, v in sorted(rows.items())
    }


def pooled(curves: list[dict[int, dict[str, float]]]) -> dict[int, dict[str, float]]:
    keys = sorted(set().union(*curves))
    return {
        k: {
            m: mean(c[k][m] for c in curves if k in c)
            for m in ("mae_before", "mae_after", "coverage", "width")
        }
        for k in keys
    }


def show(title: str, figures: dict[int, dict[str, float]], unit: str) -> None:
    print(f"\n== {title} ==")
    print(
        f"{'labels':>7}{'MAE grader':>12}{'MAE calibrated':>16}{'coverage':>10}{'width':>9}"
        f"  ({unit})"
    )
    for k, f in figures.items():
        print(
            f"{k:7d}{f['mae_before']:12.2f}{f['mae_after']:16.2f}{f['coverage']:10.1%}{f['width']:9.2f}"
        )


def _ordinary(split: str) -> list[str]:
    with (DATA / "adversarial" / "manifest.tsv").open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [
        f"{r['id']}.md" for r in rows if r["kind"] == "ordinary" and split in ("all", r["split"])
    ]


def applied_to(
    labels: list[Label],
    criteria: dict[str, float],
    held: list[Label],
    floor: tuple[float, ...],
    level: float,
) -> dict[str, float]:
    """Fit on labels (with a held-out floor), apply to other answers: MAE, coverage, width."""
    cal = fit(labels, criteria, rubric_version="bench", level=level, held_out=floor)
    return {
        **measured(cal, held),
        "answers": len(held),
        "applied_maps": sum(m.applied for m in cal.maps),
    }


def held_out_errors(labels: list[Label]) -> tuple[float, ...]:
    """What a rubric's ``[intervals] held_out_errors`` holds, for these answers."""
    return tuple(
        sorted(
            round(
                abs(sum(lb.instructor.values()) - sum(lb.grader.values())) / _scale(lb.confidence),
                2,
            )
            for lb in labels
        )
    )


def unseen(level: float) -> None:
    """The 23 graded answers (which the grader was tuned on) as labels, applied to the
    adversarial set's ordinary answers: without a floor, with the rubric's floor (measured on
    those same answers, so in-sample), and with a floor from one half applied to the other."""
    labels, criteria = health_labels(DATA / "health-check")
    rubric = load_rubric(RUBRIC)
    ordinary, _ = health_labels(DATA / "adversarial", _ordinary("all"))
    dev, _ = health_labels(DATA / "adversarial", _ordinary("dev"))
    hold, _ = health_labels(DATA / "adversarial", _ordinary("holdout"))
    print(
        f"\n== the 23 graded answers as labels, applied to {len(ordinary)} ordinary "
        "adversarial answers =="
    )
    print(
        f"held_out_errors of these answers (the rubric's floor): {list(held_out_errors(ordinary))}"
    )
    runs = [
        ("no floor", ordinary, ()),
        ("the rubric's floor (in-sample)", ordinary, rubric.held_out_errors),
        ("floor from dev half -> holdout half", hold, held_out_errors(dev)),
        ("floor from holdout half -> dev half", dev, held_out_errors(hold)),
    ]
    for name, held, floor in runs:
        f = applied_to(labels, criteria, held, floor, level)
        print(
            f"  {name:38} n={f['answers']:2d}  MAE grader {f['mae_before']:.2f}, calibrated "
            f"{f['mae_after']:.2f} ({f['applied_maps']} maps); coverage {f['coverage']:.1%}, "
            f"mean width {f['width']:.1f}"
        )


def draw(path: Path, sets: list[tuple[str, dict[int, dict[str, float]]]], level: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for name, figures in sets:
        ks = list(figures)
        axes[0].plot(
            ks, [figures[k]["mae_after"] for k in ks], marker="o", label=f"{name} calibrated"
        )
        axes[0].plot(ks, [figures[k]["mae_before"] for k in ks], ls="--", label=f"{name} grader")
        axes[1].plot(ks, [figures[k]["coverage"] for k in ks], marker="o", label=name)
        axes[2].plot(ks, [figures[k]["width"] for k in ks], marker="o", label=name)
    axes[0].set_title("MAE on the unlabelled answers")
    axes[1].set_title(f"coverage of the {level:.0%} intervals")
    axes[1].axhspan(0.85, 0.95, color="0.9")
    axes[2].set_title("mean interval width")
    for ax in axes:
        ax.set_xlabel("labels (reviewed answers)")
        ax.set_xscale("log", base=2)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("points of 100")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--png", type=Path)
    args = parser.parse_args()
    labels, criteria = health_labels(DATA / "health-check")
    health = curve(labels, criteria, [5, 10, 15, 20], args.orders, args.level)
    show("graded health-check sample (23 answers)", health, "points of 100")
    saf = pooled(
        [curve(lb, cr, [5, 10, 20, 40], args.orders, args.level) for lb, cr in saf_labels()]
    )
    # SAF questions are on a 0-1 scale: shown as points of 100 for one chart.
    saf100 = {
        k: {m: v * (100 if m != "coverage" else 1) for m, v in f.items()} for k, f in saf.items()
    }
    show("SAF train, mean over its questions", saf100, "points of 100")
    unseen(args.level)
    if args.png:
        draw(args.png, [("health check", health), ("SAF", saf100)], args.level)


if __name__ == "__main__":
    main()
