"""A regrade goes to the worker in batches: one task grades many answers, each as a single
grading would (its own claim and store), skips what is done when redelivered, and hands the
rest on as a new batch before the task's time budget runs low."""

from __future__ import annotations

import shutil

from grader.service.models import Grade, Submission

from .conftest import ROOT, graded


def _regrade_to_a_new_version(app, client, actors, tmp_path, jobs_inline) -> list[int]:
    rubrics = tmp_path / "rub"
    rubrics.mkdir()
    path = rubrics / "ml-health-check.toml"
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", path)
    app.config["RUBRICS_DIR"] = str(rubrics)
    path.write_text(path.read_text().replace("min_words = 60", "min_words = 50"))
    r = client.post("/api/v1/assignments/ml-health-check/regrade", headers=actors.h("instructor"))
    assert r.status_code == 202
    return list(jobs_inline)


def _versions(app, ids):
    with app.app_context(), app.extensions["db"].session_scope() as s:
        return [
            sorted({g.rubric_version for g in s.query(Grade).filter_by(submission_id=i)})
            for i in ids
        ]


def test_one_task_grades_a_batch_and_skips_what_is_done(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    from grader.service import tasks

    ids = [
        graded(app, client, actors, "learner", "sub-029.md"),
        graded(app, client, actors, "learner2", "sub-020.md"),
    ]
    sent = _regrade_to_a_new_version(app, client, actors, tmp_path, jobs_inline)
    assert sorted(sent) == sorted(ids)
    with app.app_context():
        assert tasks.grade_many.run(ids) == 2
        assert all(len(v) == 2 for v in _versions(app, ids))  # old and new version
        assert tasks.grade_many.run(ids) == 2  # redelivered: nothing graded twice
    assert all(len(v) == 2 for v in _versions(app, ids))


def test_a_batch_hands_the_rest_on_before_its_budget_runs_low(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path, monkeypatch
):
    from grader.service import tasks

    ids = [
        graded(app, client, actors, "learner", "sub-029.md"),
        graded(app, client, actors, "learner2", "sub-020.md"),
    ]
    _regrade_to_a_new_version(app, client, actors, tmp_path, jobs_inline)
    clock = iter(range(0, 1000, 40))  # each look at the clock: 40 s later
    monkeypatch.setattr(tasks.time, "monotonic", lambda: next(clock))
    handed: list[list[int]] = []
    monkeypatch.setattr(tasks, "enqueue_batch", lambda batch: handed.append(batch) or True)
    with app.app_context():
        assert tasks.grade_many.run(ids) == 1  # 40 s > half of the 60 s budget
    assert handed == [ids[1:]]
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert s.get(Submission, ids[1]).status.value == "graded"


def test_a_dry_run_can_be_cancelled_queued_or_midway_and_a_regrade_cannot(
    app, client, actors, assignment, monkeypatch
):
    import grader.service.api.assignments as assignments_api
    from grader.service.models import Job, JobStatus
    from grader.service.operations import grades, regrades

    for who in ("learner", "learner2"):
        graded(app, client, actors, who)
    sent: list[int] = []
    monkeypatch.setattr(assignments_api, "enqueue_job", lambda job_id: sent.append(job_id) or True)
    url = "/api/v1/assignments/ml-health-check/regrade"
    h = actors.h("instructor")

    def run(job_id: int) -> str:
        with app.app_context(), app.extensions["db"].session_scope() as s:
            return regrades.run(s, job_id, app.config["RUBRICS_DIR"], lambda ids: True)

    # Queued: cancelled before the worker takes it, it never runs.
    job = client.post(url + "?dry_run=1", headers=h).get_json()["job"]
    r = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert "Instructor Person" in r.get_json()["error"]
    assert run(job["id"]) == "already-finished"
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h).status_code == 409

    # Running: it stops at its next progress mark and keeps no result.
    job = client.post(url + "?dry_run=1", headers=h).get_json()["job"]
    monkeypatch.setattr(regrades, "PROGRESS_EVERY", 1)
    real = grades.regrade_preview

    def cancel_on_first(session, sub, rubric):
        with app.test_request_context():
            assert client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h).status_code == 200
        return real(session, sub, rubric)

    monkeypatch.setattr(grades, "regrade_preview", cancel_on_first)
    assert run(job["id"]) == "cancelled"
    with app.app_context(), app.extensions["db"].session_scope() as s:
        stored = s.get(Job, job["id"])
        assert stored.status == JobStatus.CANCELLED and stored.result is None
    got = client.get(f"/api/v1/jobs/{job['id']}", headers=h).get_json()
    assert got["status"] == "cancelled"

    # A regrade: 409, saying how to go back.
    job = client.post(url, headers=h).get_json()["job"]
    r = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_cancellable"
    assert client.post("/api/v1/jobs/1/cancel", headers=actors.h("learner")).status_code == 403
