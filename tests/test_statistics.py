"""The dashboard's figures: SQL counts, and score distributions aggregated in SQL once and
kept until a current submission of the assignment changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from grader.service.models import Assignment
from grader.service.operations import statistics

from .conftest import HEALTH, run_worker_inline

TOTALS = statistics.Bins(100.0, 10)
CRITERIA = {
    "problem_identification": statistics.Bins(30.0, 5),
    "prioritization": statistics.Bins(25.0, 5),
    "solution_design": statistics.Bins(25.0, 5),
    "risk_management": statistics.Bins(20.0, 5),
}


def _submit(app, client, actors, who: str, name: str) -> int:
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data=(HEALTH / name).read_text(),
        headers={**actors.h(who), "Content-Type": "text/markdown"},
    )
    assert r.status_code == 202
    sid = r.get_json()["id"]
    assert run_worker_inline(app, sid) == "graded"
    return sid


def test_distributions_are_kept_until_a_submission_changes(
    app, client, actors, assignment, enqueued, monkeypatch
):
    first = _submit(app, client, actors, "learner", "sub-010.md")
    _submit(app, client, actors, "learner2", "sub-020.md")
    reads = []
    real = statistics._read

    def counted(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(statistics, "_read", counted)

    def figures():
        with app.app_context():
            s = app.extensions["db"].session
            a = s.scalar(select(Assignment.id))
            return statistics.distributions(s, a, TOTALS, CRITERIA), statistics.counts(s, a)

    before, counts = figures()
    assert counts["graded"] == 2 and before.totals.n == 2
    assert figures()[0] == before and len(reads) == 1  # the second view reads no grade
    r = client.post(
        f"/api/v1/submissions/{first}/overrides",
        json={"criterion": "risk_management", "points": 0, "reason": "no rollback plan"},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 201
    after, _ = figures()
    assert len(reads) == 2 and after.criteria["risk_management"].counts[0] >= 1
    assert after.totals.mean is not None and before.totals.mean is not None
    assert after.totals.mean < before.totals.mean


def test_a_row_graded_before_points_were_kept_is_read_from_its_grades(
    app, client, actors, assignment, enqueued
):
    from sqlalchemy import null, update

    from grader.service.models import Submission
    from grader.service.operations.grades import effective_grade
    from grader.service.operations.standings import standings

    sid = _submit(app, client, actors, "learner", "sub-010.md")
    client.post(
        f"/api/v1/submissions/{sid}/overrides",
        json={"criterion": "prioritization", "points": 5, "reason": "order not justified"},
        headers=actors.h("instructor"),
    )
    with app.app_context(), app.extensions["db"].session_scope() as s:
        a = s.scalar(select(Assignment.id))
        (kept,) = standings(s, a)
        # SQL NULL, as the column added by migration 0010 left older rows.
        s.execute(update(Submission).where(Submission.id == sid).values(points=null()))
        s.flush()
        (legacy,) = standings(s, a)
        read = statistics._read(s, a, TOTALS, CRITERIA)
        eff = effective_grade(s, s.get(Submission, sid))
    expected = {c["id"]: c["points"] for c in eff["criteria"]}
    assert kept.points == legacy.points == expected and expected["prioritization"] == 5
    assert kept.overridden and legacy.overridden
    assert read.criteria["prioritization"] == statistics.Series((0, 1, 0, 0, 0), 1, 5.0)
    assert read.totals.mean == eff["total"] and read.totals.median == eff["total"]


def test_sql_bins_match_python_bins_at_the_edges(app, assignment):
    """The database's bins, means and median are the plain values' (bin edges, the top, an
    even count); the same figures as the rows read one by one."""
    from grader.service.models import Submission, User

    totals = [0.0, 10.0, 19.999, 20.0, 55.5, 100.0]
    with app.app_context(), app.extensions["db"].session_scope() as s:
        a = s.scalar(select(Assignment))
        learner = s.scalar(select(User).where(User.role == "learner"))
        for i, t in enumerate(totals):
            pi = [0.0, 6.0, 29.9, 30.0, 12.0, 30.0][i]
            s.add(
                Submission(
                    assignment_id=a.id,
                    learner_id=learner.id,
                    version=i + 1,
                    current=True,
                    status="graded",
                    content="x",
                    content_sha256="0" * 64,
                    total=t,
                    max_total=100.0,
                    points={"problem_identification": pi},
                )
            )
        s.flush()
        sql = statistics._read(s, a.id, TOTALS, CRITERIA)
        rows = statistics._read_rows(s, a.id, TOTALS, CRITERIA)
    assert sql.totals == statistics.series_of(totals, TOTALS, median=True)
    assert sql.totals.counts == (1, 2, 1, 0, 0, 1, 0, 0, 0, 1)
    assert sql.totals.median == pytest.approx(19.9995)
    assert sql.criteria["problem_identification"].counts == (1, 1, 1, 0, 3)
    assert sql.criteria["prioritization"] == statistics.Series((0,) * 5, 0, None)
    assert sql.totals.counts == rows.totals.counts and sql.totals.median == rows.totals.median


def test_bin_edges_are_exact_for_decimal_points():
    """Edges are top * k / count: with k * step a grade of 1.2 of 4 (edge 1.2000000000000002)
    fell in the bar below its own."""
    bins = statistics.Bins(4.0, 10)
    assert bins.edges[2] == 1.2 and bins.edges[5] == 2.4
    assert statistics.series_of([1.2, 2.4, 2.8], bins).counts == (0, 0, 0, 1, 0, 0, 1, 1, 0, 0)
    assert statistics.Bins(1.2, 10).edges[6] == 0.84 and statistics.Bins(99.9, 10).edges[2] == 29.97
