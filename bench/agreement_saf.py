"""Agreement of reference-answer grading with the human grades of SAF (English), train split.

Out-of-fold (leave one question group out) Pearson r, RMSE and QWK of grader next to the
plain TF-IDF cosine baseline with the same calibration, plus the time taken.

    .venv/bin/python bench/agreement_saf.py [--json] [--groups]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.scoring.evaluate import evaluate_dataset, format_report, load_dataset  # noqa: E402
from grader.scoring.reference import ReferenceModel  # noqa: E402

DATASET = ROOT / "tests" / "data" / "saf-en" / "train.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--groups", action="store_true", help="show per-group figures")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    report = evaluate_dataset(DATASET, baseline=True)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    if args.groups:
        print(format_report(report))
        return 0

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    print(f"SAF (English) train: {DATASET.relative_to(ROOT)}")
    print(f"n = {report.n} answers in {report.n_groups} groups; out of fold (leave one group out)")
    print(f"features: {', '.join(report.features)}")
    print()
    print(f"{'':20}{'grader':>8}{'tf-idf cosine':>16}")
    print(f"{'Pearson r':20}{num(report.pearson):>8}{num(report.baseline_pearson):>16}")
    print(f"{'RMSE':20}{num(report.rmse):>8}{num(report.baseline_rmse):>16}")
    qwk_label = f"QWK (step {report.qwk_step:g})"
    print(f"{qwk_label:20}{num(report.qwk):>8}{num(report.baseline_qwk):>16}")
    print()
    print(
        f"time: {elapsed:.1f} s for the whole evaluation (both methods, "
        f"{2 * report.n_groups} calibration fits); grading alone {_grading_ms():.2f} ms/answer"
    )
    return 0


def _grading_ms() -> float:
    """Mean time to grade one answer with a built model and the default calibration."""
    records = load_dataset(DATASET)
    models = {}
    for r in records:
        key = (r.question, r.reference_answers)
        if key not in models:
            models[key] = ReferenceModel(r.reference_answers, r.question)
    started = time.perf_counter()
    for r in records:
        models[(r.question, r.reference_answers)].points(r.answer, points=r.max_score)
    return (time.perf_counter() - started) / len(records) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
