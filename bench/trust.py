"""Is grader's confidence honest? Errors against blind human grades, by confidence.

For the adversarial set (``tests/data/adversarial``: its development and held-out halves, and
both) and the course's graded sample (``tests/data/health-check``), against the mean of two
blind graders, prints:

- confidently wrong: grades off by more than 15 points (of 100) at confidence >= 0.8 (must be 0);
- MAE overall and over the confident grades;
- the share of ordinary answers that are confident (target >= 85%);
- expected calibration error (10 bins) of confidence as P(|error| <= 15);
- AUROC of (1 - confidence) for errors over 15 (1.0: every big error is less confident);
- each penalty rule's false-positive rate: answers humans gave >= 50% that a rule pushed to
  <= 10%, on SAF train (reference kind) and on the graded answers (plan kind).

    python bench/trust.py [--split dev|holdout|all] [--show]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.scoring import grade_text, load_rubric  # noqa: E402
from grader.scoring.evaluate import load_dataset  # noqa: E402
from grader.scoring.rubric import reference_rubric  # noqa: E402

DATA = ROOT / "tests" / "data"
WRONG = 15.0
LEVEL = 0.8
PLAN_RULES = ("off_topic", "template_pasted", "keyword_stuffing", "exercise_copied", "too_short")
REFERENCE_RULES = ("off_topic", "too_short", "exercise_copied")


def human_totals(path: Path) -> dict[str, float]:
    by_file: dict[str, list[float]] = defaultdict(list)
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            by_file[row["file"]].append(float(row["total"]))
    return {f: mean(v) for f, v in by_file.items()}


def adversarial(split: str) -> list[tuple[str, str, Path, float]]:
    """(id, kind, path, human total) of the adversarial answers in a split."""
    human = human_totals(DATA / "adversarial" / "grades.tsv")
    out = []
    with (DATA / "adversarial" / "manifest.tsv").open(newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if split in ("all", row["split"]):
                path = DATA / "adversarial" / "answers" / f"{row['id']}.md"
                out.append((row["id"], row["kind"], path, human[f"{row['id']}.md"]))
    return out


def graded_sample() -> list[tuple[str, str, Path, float]]:
    human = human_totals(DATA / "health-check" / "grades.tsv")
    gaming = {"sub-004.md", "sub-015.md", "sub-061.md"}
    return [
        (f, "gaming" if f in gaming else "ordinary", DATA / "health-check" / f, h)
        for f, h in sorted(human.items())
    ]


def auroc(scores: list[float], positives: list[bool]) -> float:
    pos = [s for s, p in zip(scores, positives, strict=True) if p]
    neg = [s for s, p in zip(scores, positives, strict=True) if not p]
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def ece(conf: list[float], ok: list[bool], bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(conf) if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if idx:
            gap = abs(mean(conf[i] for i in idx) - mean(1.0 if ok[i] else 0.0 for i in idx))
            total += gap * len(idx) / len(conf)
    return total


def report(name: str, answers: list[tuple[str, str, Path, float]], show: bool) -> dict:
    rubric = load_rubric(ROOT / "rubrics" / "ml-health-check.toml")
    rows = []
    for ident, kind, path, human in answers:
        g = grade_text(path.read_text(encoding="utf-8"), rubric)
        rows.append((ident, kind, g.total, human, g.confidence, g.flags, g.review_reasons))
    errors = [abs(t - h) for _, _, t, h, *_ in rows]
    conf = [c for *_, c, _, _ in rows]
    confident = [i for i, c in enumerate(conf) if c >= LEVEL]
    wrong = [i for i in confident if errors[i] > WRONG]
    ordinary = [i for i, r in enumerate(rows) if r[1] == "ordinary"]
    ok = [e <= WRONG for e in errors]
    print(f"\n== {name}: {len(rows)} answers ==")
    if show:
        print(f"{'id':<12}{'kind':<18}{'grader':>7}{'human':>7}{'conf':>6}  flags / reasons")
        for ident, kind, total, human, c, flags, reasons in rows:
            mark = "  <-- confidently wrong" if c >= LEVEL and abs(total - human) > WRONG else ""
            codes = ",".join(r["code"] for r in reasons)
            print(
                f"{ident:<12}{kind[:17]:<18}{total:>7.1f}{human:>7.1f}{c:>6.2f}  "
                f"{','.join(flags)} / {codes}{mark}"
            )
    print(f"confidently wrong (|error| > {WRONG:g} at confidence >= {LEVEL}): {len(wrong)}")
    print(
        f"MAE: {mean(errors):.2f} overall, "
        + (f"{mean(errors[i] for i in confident):.2f}" if confident else "-")
        + f" over the {len(confident)} confident grades"
    )
    if ordinary:
        share = sum(1 for i in ordinary if conf[i] >= LEVEL) / len(ordinary)
        print(f"ordinary answers confident: {share:.0%} of {len(ordinary)}")
    print(f"expected calibration error: {ece(conf, ok):.3f}")
    print(
        f"AUROC of (1 - confidence) for errors > {WRONG:g}: "
        f"{auroc([1 - c for c in conf], [not o for o in ok]):.3f} "
        f"({sum(1 for o in ok if not o)} such errors)"
    )
    return {"rows": rows}


def plan_rule_fp(rows: list) -> None:
    for rule in PLAN_RULES:
        honest = [r for r in rows if r[3] >= 50]
        hit = [r for r in honest if rule in r[5] and r[2] <= 10]
        print(f"  {rule:<18}{len(hit)} of {len(honest)} answers humans gave >= 50")


def saf_rule_fp() -> None:
    records = load_dataset(DATA / "saf-en" / "train.jsonl")
    rubrics: dict = {}
    honest = [r for r in records if r.score / r.max_score >= 0.5]
    counts = dict.fromkeys(REFERENCE_RULES, 0)
    for r in honest:
        key = (r.question, r.reference_answers)
        if key not in rubrics:
            rubrics[key] = reference_rubric(list(r.reference_answers), question=r.question)
        g = grade_text(r.answer, rubrics[key])
        if g.total / g.max_total <= 0.1:
            for rule in REFERENCE_RULES:
                if rule in g.flags:
                    counts[rule] += 1
    for rule, n in counts.items():
        print(
            f"  {rule:<18}{n} of {len(honest)} ({n / len(honest):.2%}) answers humans gave >= 50%"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="all", choices=("dev", "holdout", "all"))
    parser.add_argument("--show", action="store_true", help="one line per answer")
    args = parser.parse_args()
    splits = ("dev", "holdout") if args.split == "all" else (args.split,)
    pooled = []
    for split in splits:
        pooled += report(f"adversarial set, {split}", adversarial(split), args.show)["rows"]
    sample = report("graded health-check sample", graded_sample(), args.show)["rows"]
    print("\npenalty rules, false positives (pushed to <= 10% by the rule):")
    print(" graded health-check sample and adversarial answers (plan kind):")
    plan_rule_fp(sample + pooled)
    print(" SAF train (reference kind):")
    saf_rule_fp()


if __name__ == "__main__":
    main()
