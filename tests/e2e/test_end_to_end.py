"""End to end: gunicorn, real celery worker processes, and each broker (a real redis-server,
and the embedded SQLite default)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from ..conftest import HEALTH
from .harness import Service, chunked_post, request, wait_for

pytestmark = pytest.mark.e2e
SUBMIT = "/api/v1/assignments/ml-health-check/submissions"
GOOD = (HEALTH / "sub-029.md").read_text()


def _status(svc: Service, port: int, sid: int, who: str = "instructor") -> dict:
    code, body = request(port, "GET", f"/api/v1/submissions/{sid}", token=svc.tokens[who])
    assert code == 200, body
    return body


def test_submit_grade_review_release(service: Service):
    port = service.start_web()
    service.start_worker()
    t = service.tokens
    code, body = request(port, "POST", SUBMIT, token=t["learner"], body=GOOD)
    assert code == 202 and body["status"] == "queued"
    sid = body["id"]
    graded = wait_for(lambda: _status(service, port, sid)["status"] == "graded", 60, what="grade")
    assert graded
    code, queue = request(port, "GET", "/api/v1/review-queue", token=t["instructor"])
    assert [i["id"] for i in queue["items"]] == [sid]
    code, _ = request(port, "POST", f"/api/v1/submissions/{sid}/claim", token=t["instructor"])
    assert code == 200
    code, _ = request(
        port,
        "POST",
        f"/api/v1/submissions/{sid}/overrides",
        token=t["instructor"],
        body={"criterion": "solution_design", "points": 24, "reason": "Concrete plan."},
    )
    assert code == 201
    assert _status(service, port, sid, "learner")["grade"] is None  # not released yet
    code, _ = request(port, "POST", f"/api/v1/submissions/{sid}/release", token=t["instructor"])
    assert code == 200
    mine = _status(service, port, sid, "learner")
    assert mine["status"] == "released"
    sd = next(c for c in mine["grade"]["criteria"] if c["id"] == "solution_design")
    assert sd["points"] == 24 and sd["source"] == "override"
    code, text = request(
        port, "GET", "/api/v1/assignments/ml-health-check/grades.csv", token=t["instructor"]
    )
    row = next(csv.DictReader(io.StringIO(text)))
    assert int(row["submission"]) == sid and float(row["solution_design"]) == 24
    assert float(row["total"]) == mine["grade"]["total"] and row["status"] == "released"
    code, ready = request(port, "GET", "/readyz")
    assert code == 200 and ready["checks"] == {"database": "ok", "broker": "ok"}
    # A regrade's dry run is a job the worker runs; the request only starts it.
    code, started = request(
        port, "POST", "/api/v1/assignments/ml-health-check/regrade?dry_run=1", token=t["instructor"]
    )
    assert code == 202 and started["job"]["status"] in ("queued", "running", "done")

    def job() -> dict:
        return request(port, "GET", f"/api/v1/jobs/{started['job']['id']}", token=t["instructor"])[
            1
        ]

    done = wait_for(lambda: job()["status"] in ("done", "failed") and job(), 60, what="the job")
    assert done["status"] == "done" and done["result"]["submissions"] == 1
    assert done["result"]["changes"] == []  # same rubric file: nothing would change


def test_chunked_bodies_are_stored_whole_or_refused_never_truncated(service: Service):
    """Measured before this was fixed: a 200 KB chunked body got 202 and was stored cut to
    64 KB. Now it is stored whole, and one over the 256 KB limit gets 413 and stores nothing."""
    from grader.service.models import Submission

    port = service.start_web()
    t = service.tokens
    whole = ("# Plan\n" + "data quality 0.75 with 15% missing values. " * 6000).encode()
    whole = whole[: 200 * 1024]
    code, body = chunked_post(port, SUBMIT, whole, token=t["learner"])
    assert code == 202, body
    too_big = ("# Plan\n" + "drift detection is disabled. " * 12000).encode()[: 300 * 1024]
    code, err = chunked_post(port, SUBMIT, too_big, token=t["learner2"])
    assert code == 413 and err["error"]["field"] == "body"
    app = service.app()
    with app.app_context(), app.extensions["db"].session_scope() as s:
        stored = s.scalars(select(Submission)).all()
        assert [x.id for x in stored] == [body["id"]]
        assert stored[0].content.encode() == whole and len(whole) == 200 * 1024
    app.extensions["db"].engine.dispose()


def test_kill_9_worker_with_200_in_flight_then_new_worker_grades_all_exactly_once(service: Service):
    from grader.service.models import AuditEvent, Grade, Status, Submission

    port = service.start_web(workers=2)
    app = service.app()
    db = app.extensions["db"]
    texts = sorted(p.read_text() for p in HEALTH.glob("sub-*.md"))
    ids = []
    for i in range(200):
        code, body = request(
            port,
            "POST",
            SUBMIT,
            token=service.tokens["learner"],
            body=texts[i % len(texts)] + f"\n\n<!-- copy {i} -->\n",
            headers={"Idempotency-Key": f"fault-{i}"},
        )
        assert code == 202, body
        ids.append(body["id"])

    def graded_count() -> int:
        with app.app_context(), db.session_scope() as s:
            return s.scalar(select(func.count()).select_from(Grade)) or 0

    # All 200 wait in Redis; the worker starts on them and is killed a few grades in.
    first = service.start_worker(concurrency=2)
    # Kill the whole worker (main process and pool children) mid-stream.
    wait_for(lambda: graded_count() >= 10, 60, interval=0.01, what="first grades")
    service.kill(first)
    killed_at = graded_count()
    assert killed_at < 200, "the worker finished everything before it could be killed"
    service.start_worker(concurrency=2)
    wait_for(lambda: graded_count() >= 200, 120, interval=0.2, what="all 200 graded")
    with app.app_context(), db.session_scope() as s:
        statuses = s.execute(
            select(Submission.status, func.count()).group_by(Submission.status)
        ).all()
        assert dict(statuses) == {Status.GRADED: 200}
        per_sub = dict(
            s.execute(select(Grade.submission_id, func.count()).group_by(Grade.submission_id)).all()
        )
        assert set(per_sub) == set(ids) and set(per_sub.values()) == {1}
        audits = dict(
            s.execute(
                select(AuditEvent.submission_id, func.count())
                .where(AuditEvent.action == "graded")
                .group_by(AuditEvent.submission_id)
            ).all()
        )
        assert set(audits.values()) == {1} and len(audits) == 200
    db.engine.dispose()


def test_poison_submission_fails_after_three_deliveries_and_worker_survives(service: Service):
    from grader.service.models import Submission

    port = service.start_web()
    service.start_worker(concurrency=2)
    t = service.tokens
    poison = GOOD + "\n\nGRADER-FAULT-CRASH-WORKER\n"
    code, body = request(port, "POST", SUBMIT, token=t["learner"], body=poison)
    sid = body["id"]
    failed = wait_for(
        lambda: (s := _status(service, port, sid))["status"] == "failed" and s,
        90,
        interval=0.2,
        what="poison to fail",
    )
    assert "3 times" in failed["failure_reason"]
    app = service.app()
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert s.get(Submission, sid).deliveries == 4  # 3 crashes, then the one that gave up
    app.extensions["db"].engine.dispose()
    # The worker pool replaced its dead children and keeps grading.
    code, body = request(port, "POST", SUBMIT, token=t["learner2"], body=GOOD)
    wait_for(
        lambda: _status(service, port, body["id"])["status"] == "graded",
        60,
        what="grade after poison",
    )


def test_instructors_reviews_calibrate_the_assignment_and_the_worker_regrades(service: Service):
    """Confirm and override answers, see the dry run's improvement, apply it: the worker
    regrades every answer, grades carry the interval and both versions, and the released
    grade stays as released for its learner until the instructor releases the new one."""
    from ..conftest import ADVERSARIAL

    answers = (
        sorted(HEALTH.glob("sub-*.md"))[:12] + sorted((ADVERSARIAL / "answers").glob("o*.md"))[:8]
    )
    port = service.start_web()
    service.start_worker()
    staff = service.tokens["instructor"]
    ids = []
    tokens = _tokens(service, len(answers))
    for token, path in zip(tokens, answers, strict=True):
        code, body = request(port, "POST", SUBMIT, token=token, body=path.read_text())
        assert code == 202
        ids.append(body["id"])
    assert wait_for(
        lambda: all(_status(service, port, sid)["status"] == "graded" for sid in ids),
        90,
        what="every answer graded",
    )
    for sid in ids[:17]:
        grade = _status(service, port, sid)["grade"]
        rm = next(c for c in grade["criteria"] if c["id"] == "risk_management")
        code, _ = request(
            port,
            "POST",
            f"/api/v1/submissions/{sid}/overrides",
            token=staff,
            body={
                "criterion": "risk_management",
                "points": min(20, rm["points"] + 4),
                "reason": "rollback and metrics deserve more",
            },
        )
        assert code == 201
        assert request(port, "POST", f"/api/v1/submissions/{sid}/confirm", token=staff)[0] == 200
    url = "/api/v1/assignments/ml-health-check/calibration"
    code, dry = request(port, "POST", url + "?dry_run=1", token=staff)
    assert code == 200, dry
    rm = next(c for c in dry["calibration"]["criteria"] if c["id"] == "risk_management")
    assert dry["calibration"]["labels"] == 17 and rm["applied"]
    assert rm["mae_after"] < rm["mae_before"]
    released = ids[-1]
    assert request(port, "POST", f"/api/v1/submissions/{released}/release", token=staff)[0] == 200
    before = _status(service, port, released)["grade"]
    code, applied = request(port, "POST", url, token=staff)
    assert code == 202, applied
    version = applied["calibration"]["version"]
    job_url = f"/api/v1/jobs/{applied['job']['id']}"
    assert wait_for(
        lambda: request(port, "GET", job_url, token=staff)[1]["status"] == "done", 60, what="job"
    )

    def recalibrated(sid: int) -> bool:
        grade = _status(service, port, sid)["grade"]
        return grade.get("calibration_version") == version

    assert wait_for(lambda: all(recalibrated(sid) for sid in ids), 90, what="regrades")
    unreviewed = _status(service, port, ids[17])["grade"]
    assert unreviewed["interval"]["level"] == 0.9
    assert unreviewed["interval"]["low"] <= unreviewed["total"] <= unreviewed["interval"]["high"]
    assert unreviewed["rubric_version"] == before["rubric_version"]
    kept = _status(service, port, ids[0])["grade"]
    assert next(c for c in kept["criteria"] if c["id"] == "risk_management")["source"] == "override"
    # The released answer's new grade waits; its learner still has the released one.
    renewed = _status(service, port, released)
    assert renewed["grade"]["total"] != before["total"] and renewed["release_pending"] is True
    mine = f"/api/v1/submissions/{released}"
    assert request(port, "GET", mine, token=tokens[-1])[1]["grade"]["total"] == before["total"]
    assert request(port, "POST", f"{mine}/release", token=staff)[0] == 200
    new = request(port, "GET", mine, token=tokens[-1])[1]["grade"]
    assert new["total"] == renewed["grade"]["total"] and new["calibration_version"] == version
    code, state = request(port, "GET", url, token=staff)
    assert state["current"]["version"] == version and state["labels"] == 17


def _tokens(service: Service, n: int) -> list[str]:
    from ..conftest import learner_tokens

    app = service.app()
    try:
        return learner_tokens(app, n)
    finally:
        app.extensions["db"].engine.dispose()
