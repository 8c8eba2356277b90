"""Exports: the gradebook as CSV, streamed in batches so that memory and each query stay
small however many learners an assignment has.

Rows come from :func:`~grader.service.operations.standings.standings`: pages of submission
rows in learner order, two small queries a page. Text cells
that a spreadsheet would run as formulas are neutralised (CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from ..models import Assignment
from .assignments import learner_shown
from .rubrics import rubric_for
from .standings import Standing, standings

#: Submissions per page of the export.
BATCH = 500

_CSV_UNSAFE = ("=", "+", "-", "@", "\t", "\r")
# Characters a spreadsheet skips before it looks for a formula sign.
_CSV_IGNORED = " \u00a0\u200b\u200c\u200d\u2060\ufeff"


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV injection), also when the formula
    sign is full-width (\uff1d) or follows spaces or invisible characters."""
    if isinstance(value, str) and value:
        head = unicodedata.normalize("NFKC", value.lstrip(_CSV_IGNORED)[:1])
        if head.startswith(_CSV_UNSAFE) or value.startswith(_CSV_UNSAFE):
            return "'" + value
    return value


def _who(a: Assignment, row: Standing) -> tuple[int | None, str, str | None, str | None]:
    """The row's learner (id, name, email, platform id), hidden under blind review until
    the grade is released, as on every page staff read."""
    shown = learner_shown(
        a.blind_review, row.id, row.learner_id, row.learner, row.released_at is not None
    )
    if shown["id"] is None:
        return None, shown["name"], None, None
    return row.learner_id, row.learner, row.email, row.external_id


def gradebook_filename(a: Assignment) -> str:
    return f"{a.slug}-grades.csv"


Lines = Iterator[str]


def gradebook_jsonl(session: Session, assignment_id: int, batch: int = BATCH) -> Lines:
    """The gradebook as JSON lines, for platforms: one object per learner's current
    submission, the same facts as the CSV with typed values (numbers, null, booleans) and
    the learner's platform id, and no spreadsheet escaping (nothing here is a formula)."""
    a = session.get(Assignment, assignment_id)
    if a is None:
        return
    for row in standings(
        session, a.id, batch=batch, counted=a.counted_grade, by_submission=a.blind_review
    ):
        graded = row.total is not None
        learner_id, learner, email, external_id = _who(a, row)
        # A hidden row's counted grade is an earlier, released version: it would name them.
        counted = row.released if learner_id is not None else None
        yield (
            json.dumps(
                {
                    "learner_id": learner_id,
                    "learner": learner,
                    "email": email,
                    "external_id": external_id,
                    "submission": row.id,
                    "version": row.version,
                    # Keys sorted: PostgreSQL's jsonb keeps them in its own order.
                    "points": dict(sorted(row.points.items())) if graded else None,
                    "total": row.total if graded else None,
                    "max_total": row.max_total if graded else None,
                    "status": row.status.value,
                    "late": row.late,
                    "source": ("override" if row.overridden else "grader") if graded else None,
                    "confidence": row.confidence if graded else None,
                    "released_at": row.released_at.isoformat() if row.released_at else None,
                    "counted": {
                        "version": counted[0],
                        "total": counted[1],
                        "max_total": counted[4],
                        "released_at": counted[2].isoformat(),
                        "late": counted[3],
                    }
                    if counted
                    else None,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            + "\n"
        )


def gradebook_csv(session: Session, assignment_id: int, batch: int = BATCH) -> Lines:
    """The gradebook, line by line: one row per learner's current submission with each
    criterion's points, the total, the status, where the points come from and the release;
    and the grade the learner has: their counted released version's (the latest, or the
    best by the assignment's counted_grade; an earlier one when they resubmitted after a
    release), so a resubmission never hides a released grade."""
    a = session.get(Assignment, assignment_id)
    if a is None:
        return
    ids = [c.id for c in rubric_for(a.rubric).criteria]
    out = io.StringIO()
    writer = csv.writer(out)

    def line(row: list[Any]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(row)
        return out.getvalue()

    yield line(
        [
            "learner_id",
            "learner",
            "email",
            "submission",
            "version",
            *ids,
            "total",
            "max_total",
            "status",
            "late",
            "source",
            "confidence",
            "released_at",
            "released_version",
            "released_total",
            "released_max_total",
            "released_late",
        ]
    )
    for row in standings(
        session, a.id, batch=batch, counted=a.counted_grade, by_submission=a.blind_review
    ):
        graded = row.total is not None
        learner_id, learner, email, _ = _who(a, row)
        counted = row.released if learner_id is not None else None  # (as in the JSON lines)
        yield line(
            [
                learner_id if learner_id is not None else "",
                safe_cell(learner),
                safe_cell(email or ""),
                row.id,
                row.version,
                *[row.points.get(i, "") for i in ids],
                row.total if graded else "",
                row.max_total if graded else "",
                row.status.value,
                "yes" if row.late else "",
                ("override" if row.overridden else "grader") if graded else "",
                row.confidence if graded else "",
                row.released_at.isoformat() if row.released_at else "",
                counted[0] if counted else "",
                counted[1] if counted and counted[1] is not None else "",
                counted[4] if counted and counted[4] is not None else "",
                ("yes" if counted[3] else "") if counted else "",
            ]
        )
