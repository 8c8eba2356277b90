"""Grading speed on one core, against the floor of the same work's two unavoidable steps.

The floor is a markdown-it-py parse plus one scikit-learn TF-IDF transform of each answer:
any grader that parses Markdown and compares with references pays at least that. grader's
time per answer is reported with its ratio to the floor (target <= 2). Both are timed in the
same run, interleaved in rounds, as CPU time of this process (one core); the fastest round of
each counts, as timeit does, since noise from other processes only ever adds time.

    python bench/scoring.py [--rounds 30] [--cold]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from markdown_it import MarkdownIt
from sklearn.feature_extraction.text import TfidfVectorizer

from grader.scoring import grade_text, load_rubric
from grader.scoring import text as text_module

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--cold", action="store_true", help="clear the word caches before every round (worst case)"
    )
    args = parser.parse_args()
    rubric = load_rubric(ROOT / "rubrics" / "ml-health-check.toml")
    answers = [
        p.read_text()
        for p in sorted((ROOT / "tests" / "data").rglob("*.md"))
        if p.name != "README.md"
    ]
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    vectorizer = TfidfVectorizer().fit([r for c in rubric.criteria for r in c.references])
    grade_text(answers[0], rubric)  # compile the rubric once, as a worker does at start
    floor_rounds, ours_rounds = [], []
    for _ in range(args.rounds):
        if args.cold:
            text_module._TERM_CACHE.clear()
            text_module.stem.cache_clear()
        t0 = time.process_time()
        for a in answers:
            grade_text(a, rubric)
        t1 = time.process_time()
        for a in answers:
            md.parse(a)
            vectorizer.transform([a])
        t2 = time.process_time()
        ours_rounds.append((t1 - t0) / len(answers))
        floor_rounds.append((t2 - t1) / len(answers))
    ours, floor = min(ours_rounds), min(floor_rounds)
    words = sum(len(a.split()) for a in answers) / len(answers)
    print(
        f"{len(answers)} answers (mean {words:.0f} words), {args.rounds} rounds, one core"
        f"{', cold caches' if args.cold else ''}"
    )
    print(f"grader: {ours * 1e3:6.2f} ms/answer  {1 / ours:7.1f} answers/s")
    print(
        f"floor:  {floor * 1e3:6.2f} ms/answer  {1 / floor:7.1f} answers/s"
        "  (markdown-it parse + 1 TF-IDF transform)"
    )
    print(f"ratio:  {ours / floor:6.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
