"""How long does grouping answers take, and do the groups keep apart what instructors
graded apart? (grader.scoring.groups)

1. The 111 answers with two instructors' grades (``tests/data/health-check``, 23, and
   ``tests/data/adversarial``, 88) are graded and grouped: the script prints the groups of
   more than one and the largest spread of the instructors' totals inside one (the issue's
   bound: 20 points).
2. A generator varies those answers into ``--n`` (default 10,000) new ones: each drops one
   paragraph, swaps two, and signs off with a sentence of its own, seeded, so the figures
   repeat. They are graded on ``--workers`` processes (the set-up, timed apart), then
   grouped on one core: the grouping's time is the figure (target under 30 s at 10,000).

    python bench/groups.py [--n 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.scoring import grade_text, load_rubric  # noqa: E402
from grader.scoring.groups import Answer, group  # noqa: E402

DATA = ROOT / "tests" / "data"
RUBRIC_PATH = ROOT / "rubrics" / "ml-health-check.toml"
_RUBRIC = None


def _features(item: tuple[int, str]) -> Answer:
    global _RUBRIC
    if _RUBRIC is None:
        _RUBRIC = load_rubric(RUBRIC_PATH)
    key, text = item
    return Answer.of(key, grade_text(text, _RUBRIC).to_dict())


def _sources() -> tuple[list[Path], dict[str, float]]:
    paths = sorted((DATA / "health-check").glob("sub-*.md")) + sorted(
        (DATA / "adversarial" / "answers").glob("*.md")
    )
    totals: dict[str, list[float]] = {}
    for folder in (DATA / "health-check", DATA / "adversarial"):
        rows = csv.DictReader((folder / "grades.tsv").read_text().splitlines(), delimiter="\t")
        for row in rows:
            name = row["file"].removeprefix("answers/")
            totals.setdefault(name, []).append(
                sum(float(row[c]) for c in row if c not in ("file", "grader", "total", "note"))
            )
    return paths, {k: sum(v) / len(v) for k, v in totals.items()}


def _vary(text: str, rng: random.Random, i: int) -> str:
    parts = text.split("\n\n")
    if len(parts) > 3:
        parts.pop(rng.randrange(1, len(parts)))
        a, b = rng.sample(range(1, len(parts)), 2) if len(parts) > 3 else (0, 0)
        parts[a], parts[b] = parts[b], parts[a]
    return "\n\n".join(parts) + f"\n\nNote {i}: reviewed with the team on day {rng.randint(1, 30)}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rubric = load_rubric(RUBRIC_PATH)
    top = {c.id: float(c.points) for c in rubric.criteria}

    paths, human = _sources()
    answers = [_features((i, p.read_text())) for i, p in enumerate(paths)]
    found = group(answers, top)
    worst = 0.0
    print(f"graded answers: {len(paths)}, groups: {len(found)}")
    for g in found:
        totals = [human[paths[m].name] for m in g.members]
        worst = max(worst, max(totals) - min(totals))
        if len(g.members) > 1:
            names = ", ".join(paths[m].name for m in g.members)
            print(f"  {len(g.members)}: {names} (grader {g.low:g}-{g.high:g}, "
                  f"instructors spread {max(totals) - min(totals):.1f})")  # fmt: skip
    print(f"largest spread of the instructors' totals inside a group: {worst:.1f} (bound 20)")

    rng = random.Random(20261202)
    texts = [p.read_text() for p in paths]
    varied = [(i, _vary(texts[i % len(texts)], rng, i)) for i in range(args.n)]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        many = list(pool.map(_features, varied, chunksize=64))
    graded = time.perf_counter() - start
    start = time.perf_counter()
    groups = group(many, top)
    took = time.perf_counter() - start
    sizes = sorted((len(g.members) for g in groups), reverse=True)
    print(f"varied answers: {args.n} (graded in {graded:.1f} s on {args.workers} processes)")
    print(f"grouping {args.n} answers: {took:.2f} s on one core (target < 30 s)")
    print(f"groups: {len(groups)}, largest {sizes[:5]}, alone {sizes.count(1)}")
    start = time.perf_counter()
    again = group(list(reversed(many)), top)
    took = time.perf_counter() - start
    print(f"same groups from the reversed order: {again == groups} ({took:.2f} s)")


if __name__ == "__main__":
    main()
