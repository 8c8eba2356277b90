"""Where the worker's CPU goes per first grade: the grading task's body, in this process.

Seeds N learners with one graded submission each (``grader seed --synthetic N``), forgets
their grades and copy index, queues them again and runs the ``grader.grade`` task body on
each in turn (no broker, no pool: what is left of bench/service.py's worker share once
Celery's own cost is taken away). Prints the CPU per answer of the whole body and of its
phases (claim, grading, rendering for the pages, storing, copy indexing and its parts).

Two workloads: ``synthetic`` (the seeded answers, varied: few copies) and ``service``
(bench/service.py's: the 23 graded sample answers cycled, each made unique by a comment,
so every answer is a near-copy of its ten best candidates, the worst case for copy hints).

    python bench/task_body.py [--submissions 700] [--workload service|synthetic]
        [--database-url URL]

PostgreSQL by default (``postgresql://postgres@127.0.0.1:5432/grader_task_body``, created
if missing); ``sqlite:///path`` works too.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import bench_app, seed  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from grader.service import grade_task, tasks  # noqa: E402
from grader.service.models import Submission  # noqa: E402
from grader.service.operations import copies  # noqa: E402

SAMPLES = sorted((ROOT / "tests" / "data" / "health-check").glob("sub-*.md"))
PHASES = (
    (grade_task, "_claim", "claim"),
    (grade_task, "grade_text", "grading (grade_text)"),
    (grade_task, "_render", "rendering for the pages"),
    (grade_task, "_store_first_grade", "storing the grade"),
    (copies, "record", "copy indexing"),
    (copies, "fingerprints", "  fingerprints"),
    (copies, "_index", "  index (lock, insert, mark)"),
    (copies, "compare", "  comparing candidates"),
)


def _requeue(app: Any, workload: str) -> list[int]:
    """Forget what grading made and queue every submission again; returns their ids."""
    with app.app_context():
        s = app.extensions["db"].session
        for table in ("copy_hints", "answer_fingerprints", "audit_events", "overrides", "grades"):
            s.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        s.execute(
            text(
                "UPDATE submissions SET status = 'queued', copy_indexed = false,"
                " copy_hints = 0, total = NULL, confidence = NULL, released_at = NULL,"
                " released_grade_id = NULL, reviewed = false"
            )
        )
        ids = list(s.scalars(select(Submission.id).order_by(Submission.id)))
        if workload == "service":
            answers = [p.read_text() for p in SAMPLES]
            for i, sid in enumerate(ids):
                s.execute(
                    text("UPDATE submissions SET content = :c WHERE id = :i"),
                    {"c": answers[i % len(answers)] + f"\n<!-- {i} -->\n", "i": sid},
                )
        s.commit()
    return ids


def _timed(spent: dict[str, float], module: Any, name: str, label: str) -> Callable[[], None]:
    """Wrap module.name to add its CPU time to spent[label]; returns the undo. (A phase an
    older tree does not have is left out, so trees compare with the same script.)"""
    real = getattr(module, name, None)
    if real is None:
        return lambda: None

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - started

    setattr(module, name, timed)
    return lambda: setattr(module, name, real)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=700)
    parser.add_argument("--workload", choices=("service", "synthetic"), default="service")
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/grader_task_body"
    )
    args = parser.parse_args()
    app = bench_app(args.database_url, "task-body")
    logging.getLogger().setLevel(logging.WARNING)  # a line per answer would drown the figures
    seed(app, args.submissions)
    ids = _requeue(app, args.workload)
    spent: dict[str, float] = {}
    undo = [_timed(spent, m, name, label) for m, name, label in PHASES]
    with app.app_context():
        started = time.process_time()
        outcomes = [tasks.grade.run(sid) for sid in ids]
        total = time.process_time() - started
    for u in undo:
        u()
    n = len(ids)
    assert outcomes.count("graded") == n, {o: outcomes.count(o) for o in set(outcomes)}
    print(
        f"\n{n:,} first grades, workload {args.workload}, "
        f"{app.extensions['db'].engine.dialect.name}: CPU per answer (ms)"
    )
    print(f"  {'task body, all of it':32}{total / n * 1e3:>8.2f}")
    for _, _, label in PHASES:
        shown = f"{spent[label] / n * 1e3:>8.2f}" if label in spent else f"{'-':>8}"
        print(f"  {label:32}{shown}")


if __name__ == "__main__":
    main()
