"""Data at scale for anyone: `grader seed --synthetic N` makes N learners with one really
graded answer each, some released and reviewed, and the pages and API work on them."""

from __future__ import annotations

from sqlalchemy import func, select

from grader.scoring import grade_text
from grader.service.models import Assignment, Grade, Status, Submission
from grader.service.operations.rubrics import rubric_for
from grader.service.operations.synthetic import answers, seed_synthetic

from .browser.support import add_web_users, login


def test_synthetic_learners_are_really_graded(app, client, actors, assignment):
    db = app.extensions["db"]
    with app.app_context(), db.session_scope() as session:
        a = session.scalar(select(Assignment))
        made = seed_synthetic(session, a, 300, workers=2)
    assert made["learners"] == 300 and 0 < made["released"] < made["reviewed"] < 300
    with app.app_context(), db.session_scope() as session:
        a = session.scalar(select(Assignment))
        assert session.scalar(select(func.count()).select_from(Submission)) == 300
        assert session.scalar(select(func.count()).select_from(Grade)) == 300
        totals = [t for (t,) in session.execute(select(Submission.total))]
        assert max(totals) - min(totals) > 40  # varied answers, varied grades
        sub = session.scalar(select(Submission).order_by(Submission.id).limit(1))
        again = grade_text(sub.content, rubric_for(a.rubric))
        assert again.total == sub.total  # the stored grade is the text's grade
        released = session.scalar(
            select(Submission).where(Submission.status == Status.RELEASED).limit(1)
        )
        assert released.released_grade_id is not None and released.released_at is not None
    # The same request gives the same answers.
    with app.app_context(), db.session_scope() as session:
        rubric = rubric_for(session.scalar(select(Assignment)).rubric)
        assert answers(rubric, 5, seed=3) == answers(rubric, 5, seed=3)
    staff = actors.h("instructor")
    queue = client.get("/api/v1/review-queue?per_page=50", headers=staff).get_json()
    assert len(queue["items"]) == 50 and queue["next_cursor"]
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    assert web.get("/dashboard/ml-health-check").status_code == 200
    assert web.get("/review?assignment=ml-health-check").status_code == 200
    # More learners later: new ids, no clash.
    with app.app_context(), db.session_scope() as session:
        seed_synthetic(session, session.scalar(select(Assignment)), 20, seed=1, workers=1)
    with app.app_context(), db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 320


def test_synthetic_data_is_refused_for_a_calibrated_assignment(app, actors, assignment):
    import pytest

    from grader.service.errors import APIError

    db = app.extensions["db"]
    with app.app_context(), db.session_scope() as session:
        a = session.scalar(select(Assignment))
        a.calibration_version = "c" * 12
        with pytest.raises(APIError) as exc:
            seed_synthetic(session, a, 10, workers=1)
    assert exc.value.code == "calibrated"
