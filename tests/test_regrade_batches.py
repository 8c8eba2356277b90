"""A regrade goes to the worker in batches: one task grades many answers, each as a single
grading would (its own claim and store), skips what is done when redelivered, and hands the
rest on as a new batch before the task's time budget runs low."""

from __future__ import annotations

import shutil

import pytest

from grader.service.models import Grade, Submission

from .conftest import HEALTH, ROOT, graded, learner_tokens, run_worker_inline


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


def _regrade_with(app, client, actors, tmp_path, jobs_inline, edit) -> list[int]:
    rubrics = tmp_path / "rub"
    rubrics.mkdir(exist_ok=True)
    path = rubrics / "ml-health-check.toml"
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", path)
    app.config["RUBRICS_DIR"] = str(rubrics)
    path.write_text(edit(path.read_text()))
    r = client.post("/api/v1/assignments/ml-health-check/regrade", headers=actors.h("instructor"))
    assert r.status_code == 202
    return list(jobs_inline)


def _latest(app, sid):
    from sqlalchemy.orm import undefer

    with app.app_context(), app.extensions["db"].session_scope() as s:
        g = (
            s.query(Grade)
            .options(undefer(Grade.answer_html), undefer(Grade.measured))
            .filter_by(submission_id=sid)
            .order_by(Grade.id.desc())
            .first()
        )
        return g.rubric_version, g.total, g.criteria, g.answer_html, g.measured


def test_a_points_only_regrade_finishes_grades_without_reading_the_answers(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path, monkeypatch
):
    """New points (30 -> 40 for Problem Identification): the worker finishes each grade
    from the stored measurement, keeps the rendered answer, and gives what grading the
    text under the new rubric gives."""
    from grader.scoring import grade_text
    from grader.scoring.rubric import load_rubric
    from grader.service import grade_task, tasks

    answers = {"learner": "sub-029.md", "learner2": "sub-020.md"}
    ids = [graded(app, client, actors, who, name) for who, name in answers.items()]
    before = [_latest(app, i) for i in ids]
    assert all(b[4] and b[4]["key"] for b in before)  # the measurement is kept
    points = 'id = "problem_identification"\nname = "Problem Identification"\npoints = 30'
    _regrade_with(
        app, client, actors, tmp_path, jobs_inline, lambda t: t.replace(points, points[:-2] + "40")
    )

    def no_reading(*args, **kwargs):
        raise AssertionError("the answer was read again")

    monkeypatch.setattr(grade_task, "grade_text", no_reading)
    monkeypatch.setattr(grade_task, "render_for_grade", no_reading)
    with app.app_context():
        assert tasks.grade_many.run(ids) == 2
    rubric = load_rubric(tmp_path / "rub" / "ml-health-check.toml")
    for sid, name, old in zip(ids, answers.values(), before, strict=True):
        version, total, criteria, html, _ = _latest(app, sid)
        assert version == rubric.version != old[0]
        fresh = grade_text((ROOT / "tests" / "data" / "health-check" / name).read_text(), rubric)
        assert total == fresh.total
        for got, want in zip(criteria, [c.to_dict() for c in fresh.criteria], strict=True):
            got["signals"].pop("grader_points", None)  # the assignment calibration's note
            assert got == want
        assert criteria[0]["max_points"] == 40 and html == old[3]


def test_a_regrade_that_reads_answers_differently_reads_them_again(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path, monkeypatch
):
    from grader.service import grade_task, tasks

    sid = graded(app, client, actors, "learner", "sub-029.md")
    _regrade_with(
        app,
        client,
        actors,
        tmp_path,
        jobs_inline,
        lambda t: t.replace("min_words = 60", "min_words = 50"),
    )
    read: list[int] = []
    real = grade_task.grade_text
    monkeypatch.setattr(grade_task, "grade_text", lambda *a: read.append(1) or real(*a))
    with app.app_context():
        assert tasks.grade_many.run([sid]) == 1
    assert read == [1]


def _graded_by_new_learners(app, client, names: list[str]) -> list[int]:
    ids = []
    for token, name in zip(learner_tokens(app, len(names)), names, strict=True):
        r = client.post(
            "/api/v1/assignments/ml-health-check/submissions",
            data=(HEALTH / name).read_text(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/markdown"},
        )
        assert r.status_code == 202
        ids.append(r.get_json()["id"])
        assert run_worker_inline(app, ids[-1]) == "graded"
    return ids


_PI_POINTS = 'id = "problem_identification"\nname = "Problem Identification"\npoints = 30'


def _more_points(text: str) -> str:
    return text.replace(_PI_POINTS, _PI_POINTS[:-2] + "40")


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "one by one"])
def test_a_points_only_batch_keeps_overrides_and_released_grades_as_one_by_one_does(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path, monkeypatch, batched
):
    """The batch path (finish_batch) and the one-by-one path store the same: an override
    stands over the new points and a released grade whose learner would see a change waits
    for release."""
    from grader.service import tasks

    staff = actors.h("instructor")
    released, overridden, plain = _graded_by_new_learners(
        app, client, ["sub-029.md", "sub-020.md", "sub-021.md"]
    )
    assert client.post(f"/api/v1/submissions/{released}/release", headers=staff).status_code == 200
    r = client.post(
        f"/api/v1/submissions/{overridden}/overrides",
        headers=staff,
        json={"criterion": "problem_identification", "points": 12, "reason": "Misreads AUC."},
    )
    assert r.status_code == 201
    ids = [released, overridden, plain]
    _regrade_with(app, client, actors, tmp_path, jobs_inline, _more_points)
    if not batched:
        monkeypatch.setattr(tasks, "finish_batch", lambda session, ids, cal: (0, list(ids)))
    with app.app_context():
        assert tasks.grade_many.run(ids) == 3
        assert tasks.grade_many.run(ids) == 3  # redelivered: nothing graded twice
    assert all(len(v) == 2 for v in _versions(app, ids))
    got = {sid: client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json() for sid in ids}
    pi = {
        sid: next(c for c in g["grade"]["criteria"] if c["id"] == "problem_identification")
        for sid, g in got.items()
    }
    assert all(p["max_points"] == 40 for p in pi.values())
    assert pi[overridden]["points"] == 12 and pi[overridden]["source"] == "override"
    assert got[released]["release_pending"] is True
    assert got[released]["released_total"] != got[released]["grade"]["total"]
    assert "release_pending" not in got[plain]
    history = client.get(f"/api/v1/submissions/{plain}/history", headers=staff).get_json()
    actions = [e["action"] for e in history["events"]]
    assert actions.count("regraded") == 1


def test_a_points_only_batch_costs_the_same_statements_for_more_answers(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    """Storing a batch finished from measurements reads and updates with a fixed number of
    statements, however many answers it holds (one by one takes several per answer); on
    PostgreSQL its inserts are one statement per table too (SQLite's driver inserts row by
    row, in process)."""
    from sqlalchemy import event

    from grader.service import tasks

    ids = _graded_by_new_learners(app, client, ["sub-029.md"] * 5)
    _regrade_with(app, client, actors, tmp_path, jobs_inline, _more_points)
    engine = app.extensions["db"].engine
    counts = []
    for batch in (ids[:1], ids[1:2], ids[2:]):  # the first one warms the caches
        seen: list[str] = []

        def count(conn, cursor, statement, params, context, executemany, seen=seen):
            if engine.dialect.name == "postgresql" or not statement.startswith("INSERT"):
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            with app.app_context():
                assert tasks.grade_many.run(batch) == len(batch)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(seen))
    assert counts[2] == counts[1], counts
    assert all(len(v) == 2 for v in _versions(app, ids))


def test_a_failing_batch_falls_back_to_grading_each_answer(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path, monkeypatch, caplog
):
    from grader.service import tasks
    from grader.service.operations import finished

    ids = [
        graded(app, client, actors, "learner", "sub-029.md"),
        graded(app, client, actors, "learner2", "sub-020.md"),
    ]
    _regrade_with(app, client, actors, tmp_path, jobs_inline, _more_points)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug while finishing")

    monkeypatch.setattr(finished, "finish_grade", broken)
    with app.app_context():
        assert tasks.grade_many.run(ids) == 2
    assert "finishing a batch from its measurements failed" in caplog.text
    assert all(len(v) == 2 for v in _versions(app, ids))


def test_a_batch_stores_grades_under_the_assignments_stored_version(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    """A stored rubric version keeps its key (here one an older engine would have made):
    the batch stores its grades under it, as one by one does, and finishes them."""
    from sqlalchemy import select

    from grader.service import tasks
    from grader.service.models import Assignment, RubricVersion

    sid = graded(app, client, actors, "learner", "sub-029.md")
    source = _more_points((ROOT / "rubrics" / "ml-health-check.toml").read_text())
    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.add(RubricVersion(version="older-engine-key", rubric_id="ml-health-check", source=source))
        s.flush()
        s.scalar(select(Assignment)).rubric_version = "older-engine-key"
    with app.app_context():
        assert tasks.grade_many.run([sid]) == 1
        assert tasks.grade_many.run([sid]) == 1  # and only once
    assert _versions(app, [sid])[0].count("older-engine-key") == 1
    assert _latest(app, sid)[2][0]["max_points"] == 40


def test_a_batch_gives_its_grades_and_audit_events_ids_in_order(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    """On PostgreSQL a batch takes its ids from the tables' sequences up front (so it can
    insert without RETURNING): in submission order, and past every id stored before, and
    the next row inserted the usual way comes after them."""
    from sqlalchemy import func, select

    from grader.service import tasks
    from grader.service.models import AuditEvent, Grade, Submission
    from grader.service.operations.events import audit

    ids = _graded_by_new_learners(app, client, ["sub-029.md", "sub-020.md", "sub-021.md"])
    _regrade_with(app, client, actors, tmp_path, jobs_inline, _more_points)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        before = (s.scalar(select(func.max(Grade.id))), s.scalar(select(func.max(AuditEvent.id))))
    with app.app_context():
        assert tasks.grade_many.run(ids) == 3
    with app.app_context(), app.extensions["db"].session_scope() as s:
        grades = [s.scalar(select(func.max(Grade.id)).where(Grade.submission_id == i)) for i in ids]
        events = [
            s.scalar(
                select(AuditEvent.id).where(
                    AuditEvent.submission_id == i, AuditEvent.action == "regraded"
                )
            )
            for i in ids
        ]
        assert grades == sorted(grades) and grades[0] > before[0]
        assert events == sorted(events) and events[0] > before[1]
        audit(s, s.get(Submission, ids[0]), "noted", reason="after the batch")
        s.flush()
        later = s.scalar(select(func.max(AuditEvent.id)))
    assert later > events[-1]
