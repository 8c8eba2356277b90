"""What a regrade costs per answer when the rubric's points change, against one that reads
the answers again.

Seeds one assignment with N graded submissions (``grader seed --synthetic N``), then
regrades all of them twice through the worker's own task body (``grader.grade_many`` run
in this process, batches of 50, as the regrade job sends them): once after a change to
points only (grades are finished from each grade's stored measurement) and once after a
change to what is read (``min_words``: every answer is graded again). Also times the
scoring library alone on the seeded answers: ``grade_text`` against ``finish_grade``.

    python bench/regrade.py [--submissions 2000] [--database-url URL]

PostgreSQL by default (``postgresql://postgres@127.0.0.1:5432/grader_regrade``, created if
missing); ``sqlite:///path`` works too. Prints CPU and wall time per answer and the ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import SLUG, bench_app, seed  # noqa: E402
from sqlalchemy import select  # noqa: E402

from grader.scoring import grade_text  # noqa: E402
from grader.scoring.grade import finish_grade  # noqa: E402
from grader.scoring.rubric import load_rubric  # noqa: E402
from grader.service import tasks  # noqa: E402
from grader.service.models import Assignment, Submission  # noqa: E402
from grader.service.operations import regrades  # noqa: E402
from grader.service.operations.rubrics import store_rubric  # noqa: E402

POINTS = 'id = "problem_identification"\nname = "Problem Identification"\npoints = 30'


def _switch(app, path: Path) -> None:
    """Put the assignment on the rubric file's version, as starting a regrade does."""
    with app.app_context():
        s = app.extensions["db"].session
        a = s.scalar(select(Assignment).where(Assignment.slug == SLUG))
        a.rubric_version = store_rubric(s, path).version
        s.commit()


def _regrade(app, ids: list[int]) -> tuple[float, float]:
    """(CPU, wall) seconds to regrade ids through the worker's task body."""
    cpu, wall = time.process_time(), time.perf_counter()
    with app.app_context():
        for i in range(0, len(ids), regrades.BATCH):
            tasks.grade_many.run(ids[i : i + regrades.BATCH])
    return time.process_time() - cpu, time.perf_counter() - wall


def _library(app, path: Path, changed: Path) -> tuple[float, float]:
    """Per answer CPU ms of grade_text and of finish_grade, on the distinct seeded answers."""
    with app.app_context():
        s = app.extensions["db"].session
        texts = sorted(set(s.scalars(select(Submission.content))))
    rubric, new = load_rubric(path), load_rubric(changed)
    graded = [grade_text(t, rubric) for t in texts]  # warm: compiled rubric, caches
    stored = [(json.loads(json.dumps(g.measured)), g.plan) for g in graded]
    t0 = time.process_time()
    for t in texts:
        grade_text(t, new)
    full = time.process_time() - t0
    t0 = time.process_time()
    for measured, plan in stored:
        assert finish_grade(measured, new, plan) is not None
    finish = time.process_time() - t0
    return full / len(texts) * 1000, finish / len(texts) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/grader_regrade"
    )
    args = parser.parse_args()
    rubrics = Path(tempfile.mkdtemp(prefix="grader-regrade-"))
    path = rubrics / "ml-health-check.toml"
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", path)
    app = bench_app(args.database_url, "regrade", rubrics)
    logging.getLogger().setLevel(logging.WARNING)  # one line per batch would drown the figures
    seed(app, args.submissions)
    with app.app_context():
        s = app.extensions["db"].session
        ids = list(s.scalars(select(Submission.id).order_by(Submission.id)))
    original = path.read_text()
    assert POINTS in original
    points_only = rubrics / "points.toml"
    points_only.write_text(original.replace(POINTS, POINTS[:-2] + "40"))
    full_read = rubrics / "full.toml"
    full_read.write_text(original.replace("min_words = 60", "min_words = 61"))

    lib_full, lib_finish = _library(app, path, points_only)
    _switch(app, points_only)
    p_cpu, p_wall = _regrade(app, ids)
    _switch(app, full_read)
    f_cpu, f_wall = _regrade(app, ids)

    n = len(ids)
    print(f"\n{n:,} submissions, {app.extensions['db'].engine.dialect.name}, one process")
    print(f"{'per answer (ms)':38}{'CPU':>10}{'wall':>10}")
    for label, cpu, wall in (
        ("regrade, points only (finished)", p_cpu, p_wall),
        ("regrade, reads answers (graded)", f_cpu, f_wall),
    ):
        print(f"{label:38}{cpu / n * 1000:>10.2f}{wall / n * 1000:>10.2f}")
    print(f"{'scoring library: grade_text':38}{lib_full:>10.2f}")
    print(f"{'scoring library: finish_grade':38}{lib_finish:>10.2f}")
    print(f"\npoints-only regrade / full regrade, wall: {p_wall / f_wall:.2f}")
    print(f"projected for 100,000 on 2 worker processes: points only {p_wall / n * 5e4:.0f} s, "
          f"reading {f_wall / n * 5e4:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
