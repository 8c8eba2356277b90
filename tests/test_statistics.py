"""The dashboard's figures: SQL counts, and score distributions read once and kept until a
current submission of the assignment changes."""

from __future__ import annotations

from sqlalchemy import select

from grader.service.models import Assignment
from grader.service.operations import statistics

from .conftest import HEALTH, run_worker_inline


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
            return statistics.distributions(s, a), statistics.counts(s, a)

    before, counts = figures()
    assert counts["graded"] == 2 and len(before.totals) == 2
    assert figures()[0] == before and len(reads) == 1  # the second view reads no grade
    r = client.post(
        f"/api/v1/submissions/{first}/overrides",
        json={"criterion": "risk_management", "points": 0, "reason": "no rollback plan"},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 201
    after, _ = figures()
    assert len(reads) == 2 and 0.0 in after.criteria["risk_management"]
    assert sum(after.totals) < sum(before.totals)


def test_a_row_graded_before_points_were_kept_is_read_from_its_grades(
    app, client, actors, assignment, enqueued
):
    from sqlalchemy import update

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
        s.execute(update(Submission).where(Submission.id == sid).values(points=None))
        s.flush()
        (legacy,) = standings(s, a)
        read = statistics._read(s, a)
        eff = effective_grade(s, s.get(Submission, sid))
    expected = {c["id"]: c["points"] for c in eff["criteria"]}
    assert kept.points == legacy.points == expected and expected["prioritization"] == 5
    assert kept.overridden and legacy.overridden
    assert read.criteria["prioritization"] == (5,) and read.totals == (eff["total"],)
