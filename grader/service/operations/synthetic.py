"""Data at scale for anyone: N learners with one graded answer each in one assignment, so a
user can try the pages at scale and the benchmarks have data (``grader seed --synthetic``).

The answers are made from the rubric itself: each takes a random share of the sentences of
every criterion's sample answers (seeded, so the same N give the same data), under the
criteria's names, which gives grades from near 0 to about 80 of 100. A pool of distinct
answers (at most ``POOL``) is really graded, on every core; learners draw from it, and an
answer's grade is the grade of its text (grading is deterministic). Some grades are
released and some marked reviewed. Rows go in by batches (COPY on PostgreSQL).
"""

from __future__ import annotations

import enum
import hashlib
import json
import multiprocessing
import os
import random
import re
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from grader.scoring import Rubric, grade_text

from ..errors import APIError
from ..models import Assignment, Grade, Role, Status, Submission, User, utcnow
from .grades import codes_text
from .rubrics import rubric_for

__all__ = ["POOL", "answers", "seed_synthetic"]

#: Distinct answers graded per run (learners beyond it share texts, and so grades).
POOL = 2000
#: Rows written per batch.
BATCH = 5000
RELEASED_SHARE = 0.3
REVIEWED_SHARE = 0.1
_SENTENCE = re.compile(r"(?<=[.;:])\s+")


def answers(rubric: Rubric, n: int, seed: int = 0) -> list[str]:
    """n generated answers (deterministic for the same rubric, n and seed)."""
    pool = {
        c.id: [s for ref in c.references for s in _SENTENCE.split(" ".join(ref.split())) if s]
        for c in rubric.criteria
    }
    rng = random.Random(f"{rubric.version}:{seed}")
    out = []
    for i in range(n):
        share = rng.random()
        parts = []
        for c in rubric.criteria:
            chosen = [s for s in pool[c.id] if rng.random() < share]
            if chosen:
                parts.append(f"## {c.name}\n\n" + "\n".join(f"- {s}" for s in chosen))
        out.append("\n\n".join(parts) + f"\n\nAnswer {seed}-{i}.")
    return out


_RUBRIC: list[Rubric] = []  # inherited by the grading processes (fork)


def _grade(content: str) -> dict[str, Any]:
    grade = grade_text(content, _RUBRIC[0])
    return grade.to_dict() | {"measured": grade.measured}


def _graded(rubric: Rubric, texts: list[str], workers: int) -> list[dict[str, Any]]:
    _RUBRIC[:] = [rubric]
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [_grade(t) for t in texts]
    from grader.scoring.compiled import compile_rubric

    compile_rubric(rubric)  # in the parent, once
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(_grade, texts, chunksize=16)


def seed_synthetic(
    session: Session, a: Assignment, n: int, *, seed: int = 0, workers: int = 0
) -> dict[str, Any]:
    """Create n learners with one graded answer each in ``a``; returns what was made.
    Refused for a calibrated assignment (its grades would need the calibration too)."""
    if a.calibration_version:
        raise APIError(
            409,
            "calibrated",
            "synthetic answers go to an assignment without an instructor calibration",
        )
    rubric = rubric_for(a.rubric)
    texts = answers(rubric, min(n, POOL), seed)
    grades = _graded(rubric, texts, workers or os.cpu_count() or 1)
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # ids are taken below: nobody else may take them meanwhile
        conn.execute(text("LOCK TABLE users, submissions, grades IN EXCLUSIVE MODE"))
    first = {
        t: int(conn.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {t}")) or 0) + 1  # noqa: S608
        for t in ("users", "submissions", "grades")
    }
    now = utcnow()
    rng = random.Random(f"{a.id}:{seed}:{n}")
    made = {"learners": 0, "released": 0, "reviewed": 0}
    for start in range(0, n, BATCH):
        users, subs, rows = [], [], []
        for i in range(start, min(n, start + BATCH)):
            k = i % len(texts)
            g, content = grades[k], texts[k]
            uid, sid, gid = first["users"] + i, first["submissions"] + i, first["grades"] + i
            released = rng.random() < RELEASED_SHARE
            reviewed = released or rng.random() < REVIEWED_SHARE
            users.append(
                {
                    "id": uid,
                    "name": f"Synthetic learner {uid}",
                    "email": f"synthetic-{uid}@example.invalid",
                    "role": Role.LEARNER,
                    "active": True,
                    "session_generation": 0,
                    "created_at": now,
                }
            )
            subs.append(
                {
                    "id": sid,
                    "assignment_id": a.id,
                    "learner_id": uid,
                    "version": 1,
                    "current": True,
                    "content": content,
                    "content_sha256": hashlib.sha256(content.encode()).hexdigest(),
                    "status": Status.RELEASED if released else Status.GRADED,
                    "deliveries": 0,
                    "unsent": False,
                    "reviewed": reviewed,
                    "open_requests": 0,
                    "copy_hints": 0,
                    # Synthetic learners share texts by construction: not copy-indexed.
                    "copy_indexed": True,
                    "late": False,
                    "total": g["total"],
                    "max_total": g["max_total"],
                    "confidence": g["confidence"],
                    "points": {c["id"]: c["points"] for c in g["criteria"]},
                    "flags_text": codes_text(g["flags"]),
                    "review_codes": codes_text(r["code"] for r in g["review_reasons"]),
                    "released_at": now if released else None,
                    "released_grade_id": gid if released else None,
                    "released_total": g["total"] if released else None,
                    "released_max_total": g["max_total"] if released else None,
                    "release_pending": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            rows.append(
                {
                    "id": gid,
                    "submission_id": sid,
                    "rubric_version": a.rubric_version,
                    "total": g["total"],
                    "max_total": g["max_total"],
                    "confidence": g["confidence"],
                    "flags": g["flags"],
                    "review_reasons": g["review_reasons"],
                    "criteria": g["criteria"],
                    "warnings": g["warnings"],
                    "plan": g["plan"],
                    "measured": g["measured"],
                    "calibration_version": "",
                    "created_at": now,
                }
            )
            made["released"] += released
            made["reviewed"] += reviewed
        for model, batch in ((User, users), (Submission, subs), (Grade, rows)):
            if postgres:
                _copy(conn, model.__tablename__, batch)
            else:
                conn.execute(insert(model), batch)
        made["learners"] += len(users)
    if postgres:
        for table in ("users", "submissions", "grades"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT MAX(id) FROM {table}))"
                )
            )
    return made | {"distinct_answers": len(texts), "assignment": a.slug}


def _copy(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """COPY rows into table (PostgreSQL): the fastest bulk load there is."""
    columns = list(rows[0])
    raw = conn.connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # noqa: S608 (our own names)
        ) as copy,
    ):
        for row in rows:
            copy.write_row([_cell(row[c]) for c in columns])


def _cell(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value
