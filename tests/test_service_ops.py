"""Operations: delivery counting, failure, retry, the reconciler, migrations, commands."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, inspect, select, text

from .conftest import HEALTH, run_worker_inline

GOOD = (HEALTH / "sub-029.md").read_text()


def _submit(client, actors, body=GOOD, who="learner"):
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data=body,
        headers={**actors.h(who), "Content-Type": "text/markdown"},
    )
    assert r.status_code == 202
    return r.get_json()["id"]


def test_a_submission_that_never_finishes_fails_after_max_deliveries(
    app, client, actors, assignment, enqueued
):
    from grader.service.grade_task import GradingSettings, grade_submission
    from grader.service.models import Submission

    sid = _submit(client, actors)
    db = app.extensions["db"]
    # Three deliveries each died before writing a grade (simulated by counting only).
    with app.app_context(), db.session_scope() as s:
        s.get(Submission, sid).deliveries = 3
    outcome = grade_submission(db.engine, db.sessionmaker, sid, GradingSettings(3, 60))
    assert outcome == "failed"
    body = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    assert body["status"] == "failed" and "3 times" in body["failure_reason"]
    # The learner is told that it failed, not how (no internals).
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert mine["status"] == "failed" and "3 times" not in mine["failure_reason"]
    assert run_worker_inline(app, sid) == "failed-earlier"
    r = client.post(f"/api/v1/submissions/{sid}/retry", headers=actors.h("instructor"))
    assert r.status_code == 202 and enqueued[-1] == sid
    assert run_worker_inline(app, sid) == "graded"
    events = client.get(
        f"/api/v1/submissions/{sid}/history", headers=actors.h("instructor")
    ).get_json()["events"]
    assert [e["action"] for e in events] == ["submitted", "failed", "retried", "graded"]
    r = client.post(f"/api/v1/submissions/{sid}/retry", headers=actors.h("instructor"))
    assert r.status_code == 409


def test_grading_errors_fail_with_a_reason(app, client, actors, assignment, enqueued, monkeypatch):
    import grader.service.grade_task as grade_task

    sid = _submit(client, actors)

    def boom(*a, **k):
        raise RuntimeError("rubric exploded")

    monkeypatch.setattr(grade_task, "grade_text", boom)
    assert run_worker_inline(app, sid) == "error"
    body = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    assert body["status"] == "failed" and "rubric exploded" in body["failure_reason"]


def test_reconciler_finds_stuck_and_lost_work(app, client, actors, assignment, enqueued):
    from grader.service.models import Status, Submission, utcnow
    from grader.service.operations.submissions import stuck_submissions

    queued = _submit(client, actors)
    grading_ = _submit(client, actors, who="learner2")
    done = _submit(client, actors, who="instructor2")
    run_worker_inline(app, done)
    db = app.extensions["db"]
    old = utcnow() - timedelta(minutes=10)
    with app.app_context(), db.session_scope() as s:
        assert stuck_submissions(s, stuck_after=120) == []  # nothing is old yet
        g = s.get(Submission, grading_)
        g.status, g.lease_until = Status.GRADING, old
        s.flush()
        for sid in (queued, grading_, done):
            s.get(Submission, sid).updated_at = old
    with app.app_context(), db.session_scope() as s:
        # `done` has its grade, so only the two stuck ones come back, once.
        assert stuck_submissions(s, stuck_after=120) == [queued, grading_]
    with app.app_context(), db.session_scope() as s:
        assert stuck_submissions(s, stuck_after=120) == []  # touched: wait for next interval


def test_reconcile_task_reenqueues(app, client, actors, assignment, enqueued, monkeypatch):
    import grader.service.tasks as tasks
    from grader.service.models import Submission, utcnow

    sid = _submit(client, actors)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.get(Submission, sid).updated_at = utcnow() - timedelta(hours=1)
    sent = []
    monkeypatch.setattr(tasks, "enqueue_grade", lambda i: sent.append(i) or True)
    with app.app_context():
        assert tasks.reconcile() == 1
    assert sent == [sid]


def test_a_task_the_broker_refused_is_sent_at_the_next_reconcile(
    app, client, actors, assignment, monkeypatch
):
    """Submitted while the broker was down: 202 (the answer is stored), marked unsent, and
    sent by the very next reconcile rather than after STUCK_AFTER."""
    import grader.service.tasks as tasks
    from grader.service.models import Submission

    def down(*a, **k):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.grade, "apply_async", down)
    sid = _submit(client, actors)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert s.get(Submission, sid).unsent is True
    sent = []
    monkeypatch.setattr(tasks.grade, "apply_async", lambda *a, **k: sent.append(k["args"][0]))
    with app.app_context():
        assert tasks.reconcile() == 1
        assert tasks.reconcile() == 0  # sent: not again before STUCK_AFTER
    assert sent == [sid]
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert s.get(Submission, sid).unsent is False


def test_migrations_match_models_and_keep_data(tmp_path, db_url):
    """Upgrading an existing database never loses rows, and the schema equals the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from grader.service.db import make_engine
    from grader.service.lti import models as lti_models
    from grader.service.migrate import upgrade
    from grader.service.models import Base
    from grader.service.webhooks import models as webhook_models

    assert webhook_models.Delivery.__table__.metadata is Base.metadata  # all tables compared
    assert lti_models.ScorePost.__table__.metadata is Base.metadata
    upgrade(db_url, "0001")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (name, role, active, created_at) VALUES "
                "('Ada', 'learner', true, CURRENT_TIMESTAMP)"
            )
        )
    upgrade(db_url, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM users")).scalar_one() == "Ada"
        with warnings.catch_warnings():
            # The descending queue indexes are PostgreSQL's only (0033): alembic says so.
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified")
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        if conn.dialect.name == "postgresql":  # 0003: large columns compressed with lz4
            methods = conn.execute(
                text(
                    "SELECT attcompression FROM pg_attribute WHERE attrelid = "
                    "'submissions'::regclass AND attname = 'content'"
                )
            ).scalar_one()
            assert methods == "l"
    assert diff == [], diff
    upgrade(db_url, "head")  # idempotent
    engine.dispose()


def test_token_create_prints_token_last_and_it_works(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import main

    monkeypatch.setenv("GRADER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("GRADER_BROKER_URL", "memory://")
    runner = CliRunner()
    r = runner.invoke(main, ["token", "create", "--role", "instructor", "--name", "Grace"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("grd_") and len(token) > 40
    from grader.service import create_app

    app = create_app()
    client = app.test_client()
    assert (
        client.get("/api/v1/review-queue", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    app.extensions["db"].engine.dispose()
    listing = runner.invoke(main, ["token", "list"]).output
    assert "Grace" in listing and token not in listing
    token_id = listing.split("\t")[0]
    assert runner.invoke(main, ["token", "revoke", token_id]).exit_code == 0
    assert (
        client.get("/api/v1/review-queue", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    bad = runner.invoke(main, ["token", "create", "--role", "wizard", "--name", "x"])
    assert bad.exit_code == 2


def test_seed_creates_assignment_and_demo_accounts_once(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import main

    monkeypatch.setenv("GRADER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("GRADER_BROKER_URL", "memory://")
    first = CliRunner().invoke(main, ["seed"])
    assert first.exit_code == 0 and first.output.count("token: grd_") == 4
    again = CliRunner().invoke(main, ["seed"])
    assert "already exist" in again.output and "grd_" not in again.output
    engine = create_engine(f"sqlite:///{tmp_path / 'inst' / 'grader.db'}")
    assert "assignments" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT slug FROM assignments")).scalar_one() == "ml-health-check"
    engine.dispose()


def test_missing_integer_setting_fails_fast(monkeypatch):
    from grader.service import create_app
    from grader.service.config import ConfigError

    monkeypatch.setenv("GRADER_MAX_SUBMISSION_BYTES", "lots")
    with pytest.raises(ConfigError, match="GRADER_MAX_SUBMISSION_BYTES must be an integer"):
        create_app({"BROKER_URL": "memory://"})


def test_grade_is_keyed_by_submission_and_rubric_version(app, client, actors, assignment, enqueued):
    from sqlalchemy.exc import IntegrityError

    from grader.service.models import Grade

    sid = _submit(client, actors)
    run_worker_inline(app, sid)
    with app.app_context(), app.extensions["db"].sessionmaker() as s:
        g = s.scalar(select(Grade).where(Grade.submission_id == sid))
        s.add(
            Grade(
                submission_id=sid,
                rubric_version=g.rubric_version,
                total=1,
                max_total=100,
                confidence=0.5,
                flags=[],
                criteria=[],
                warnings=[],
                plan={},
            )
        )
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()


def test_two_workers_grading_one_submission_store_one_grade(
    app, client, actors, assignment, enqueued
):
    """A redelivered message can be graded by two workers at once: both claim and grade,
    only the first store writes (grade, status, audit); the second changes nothing."""
    from grader.scoring import grade_text
    from grader.service import grade_task
    from grader.service.models import AuditEvent, Grade, RubricVersion, Submission
    from grader.service.operations.rubrics import rubric_for

    sid = _submit(client, actors)
    db = app.extensions["db"]
    settings = grade_task.GradingSettings(3, 60)
    with db.engine.connect() as conn:
        first = grade_task._claim(conn, sid, settings)
    with db.engine.connect() as conn:
        second = grade_task._claim(conn, sid, settings)
    assert first.deliveries == 1 and second.deliveries == 2
    with db.sessionmaker() as s:
        rubric = rubric_for(s.get(RubricVersion, first.rubric_version))
    scored = grade_text(first.content, rubric)
    outcomes = []
    for _ in range(2):
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            outcomes.append(grade_task._store_first_grade(conn, sid, first.rubric_version, scored))
    assert outcomes == ["graded", "already-graded"]
    with db.sessionmaker() as s:
        assert len(s.scalars(select(Grade).where(Grade.submission_id == sid)).all()) == 1
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.submission_id == sid))
        assert list(actions) == ["submitted", "graded"]
        sub = s.get(Submission, sid)
        assert sub.status.value == "graded" and sub.total == scored.total
    assert run_worker_inline(app, sid) == "already-graded"


def test_concurrent_submissions_by_one_learner_get_distinct_versions(
    app, client, actors, assignment, enqueued
):
    """Submissions by one learner at the same moment race for the next version number; the
    losers take the following numbers instead of failing, and exactly one stays current."""
    from concurrent.futures import ThreadPoolExecutor

    from grader.service.models import Submission

    def send(i: int) -> int:
        r = client.post(
            "/api/v1/assignments/ml-health-check/submissions",
            data=f"{GOOD}\n<!-- {i} -->\n",
            headers={**actors.h("learner"), "Content-Type": "text/markdown"},
        )
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(send, range(16)))
    assert codes == [202] * 16
    with app.app_context(), app.extensions["db"].session_scope() as s:
        rows = s.query(Submission).order_by(Submission.version).all()
        assert [x.version for x in rows] == list(range(1, 17))
        assert [x.current for x in rows] == [False] * 15 + [True]
        assert all(x.superseded_by_id is not None for x in rows[:-1])


def test_secure_session_cookie_from_environment(monkeypatch):
    from grader.service.config import from_environment

    monkeypatch.setenv("GRADER_SESSION_COOKIE_SECURE", "1")
    assert from_environment()["SESSION_COOKIE_SECURE"] is True


def test_only_the_worker_commits_asynchronously(tmp_path, db_url):
    """The worker's writes are redone if a crash loses them, so on PostgreSQL it does not
    wait for the WAL flush; the web process (whose 202 promises the answer is stored) does,
    and the setting turns the worker's behaviour off."""
    from .conftest import make_app

    def setting(**overrides) -> str | None:
        app = make_app(tmp_path, db_url, **overrides)
        engine = app.extensions["db"].engine
        with engine.connect() as conn:
            value = (
                conn.execute(text("SHOW synchronous_commit")).scalar_one()
                if conn.dialect.name == "postgresql"
                else None
            )
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        engine.dispose()
        return value

    expected = ("on", "off", "on") if db_url.startswith("postgresql") else (None, None, None)
    assert (
        setting(),
        setting(PROCESS_ROLE="worker"),
        setting(PROCESS_ROLE="worker", WORKER_ASYNC_COMMIT=False),
    ) == expected


def test_submit_runs_in_autocommit_on_postgresql_only(app):
    """Submitting is one statement on PostgreSQL, so its session skips BEGIN and COMMIT;
    every other request (and SQLite, where submitting takes three) keeps a transaction."""
    from flask import g

    db = app.extensions["db"]
    postgresql = db.engine.dialect.name == "postgresql"
    for flagged in (False, True):
        with app.test_request_context():
            if flagged:
                g.db_single_statement_writes = True
            level = db.session.connection().get_execution_options().get("isolation_level")
            assert (level == "AUTOCOMMIT") == (flagged and postgresql), (flagged, level)


def test_plain_redis_gets_the_pooled_client_transport_and_rediss_keeps_tls(tmp_path):
    """kombu turns TLS on from the rediss:// scheme; naming a transport would hide it."""
    from grader.service import create_app
    from grader.service.broker import Transport

    def connection(url: str):
        app = create_app(
            {
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
                "REDIS_URL": url,
                "SECRET_KEY": "x",
            }
        )
        return app.extensions["celery"].connection_for_write()

    plain = connection("redis://127.0.0.1:6390/0")
    assert isinstance(plain.transport, Transport) and not plain.ssl
    tls = connection("rediss://127.0.0.1:6390/0")
    assert not isinstance(tls.transport, Transport) and tls.ssl


def test_a_dead_redis_server_does_not_end_the_worker_at_channel_close():
    """kombu restores unacknowledged messages as a channel closes; with redis-server gone
    that raised and ended the worker. The restore is skipped (the messages stay in Redis'
    unacked index for the visibility-timeout sweep). A fake channel: a unit test."""
    from contextlib import contextmanager

    from redis.exceptions import ConnectionError as RedisConnectionError

    from grader.service.broker import QoS

    class DeadChannel:
        do_restore = True

        @contextmanager
        def conn_or_acquire(self, client=None):
            raise RedisConnectionError("Connection refused")
            yield  # pragma: no cover

    qos = QoS(DeadChannel())
    qos._delivered["tag-1"] = object()
    qos.restore_unacked()  # no exception
    assert not qos._delivered
    # A task finishing after the channel closed: its acknowledgement is dropped, not raised.
    qos._delivered["tag-2"] = object()
    qos.ack("tag-2")
    qos._delivered["tag-3"] = object()
    qos.reject("tag-3", requeue=True)
    qos._flush()
    assert not qos._delivered


def test_a_grading_that_cannot_reach_the_database_is_retried_not_dropped(app, monkeypatch):
    """Seen in bench/faults.py: during a PostgreSQL restart the task failed, its message was
    acknowledged and the submission waited STUCK_AFTER (122 s). It now retries with back-off."""
    from sqlalchemy.exc import OperationalError

    import grader.service.tasks as tasks

    def down(*a, **k):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    class Retried(Exception):
        pass

    calls = []

    def retry(exc=None, countdown=None, **k):
        calls.append(countdown)
        return Retried()

    monkeypatch.setattr(tasks, "grade_submission", down)
    monkeypatch.setattr(tasks.grade, "retry", retry)
    with app.app_context(), pytest.raises(Retried):
        tasks.grade.run(1)
    assert calls == [1]  # 2 ** retries, capped at 30 s


def test_submissions_without_metadata_store_json_null_on_every_database(
    app, client, actors, assignment, enqueued
):
    """The PostgreSQL statement writes what the ORM and the SQLite path write: JSON null,
    not SQL NULL, when a submission has no metadata."""
    _submit(client, actors)
    with app.app_context(), app.extensions["db"].engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM submissions")).scalar_one() == 1
        assert (
            conn.execute(text("SELECT count(*) FROM submissions WHERE metadata IS NULL"))
        ).scalar_one() == 0


def test_transactions_that_raise_platform_events_commit_synchronously(
    tmp_path, db_url, monkeypatch
):
    """The worker commits asynchronously, except where it records an event for a platform:
    that event may be sent as soon as it is visible, so it must be durable first."""
    from types import SimpleNamespace

    from grader.service.operations import events

    from .conftest import make_app

    monkeypatch.setattr(events, "_event_hooks", [])
    app = make_app(tmp_path, db_url, PROCESS_ROLE="worker")
    db = app.extensions["db"]
    postgresql = db.engine.dialect.name == "postgresql"
    with db.sessionmaker() as session:
        show = text("SHOW synchronous_commit")
        before = session.execute(show).scalar_one() if postgresql else None
        events.emit(session, "submission.graded", SimpleNamespace(platform_id=1))
        during = session.execute(show).scalar_one() if postgresql else None
        session.commit()
        after = session.execute(show).scalar_one() if postgresql else None
    db.engine.dispose()
    assert (before, during, after) == (("off", "on", "off") if postgresql else (None,) * 3)


def test_a_grading_past_its_time_budget_ends_failed_with_a_reason(
    app, client, actors, assignment, enqueued, monkeypatch
):
    """Celery raises SoftTimeLimitExceeded inside the task at GRADING_SOFT_LIMIT; the
    submission then ends failed, saying so, instead of being retried or left grading."""
    from celery.exceptions import SoftTimeLimitExceeded

    import grader.service.grade_task as grade_task
    from grader.service.grade_task import GradingSettings, grade_submission

    def too_slow(*_args, **_kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(grade_task, "grade_text", too_slow)
    sid = _submit(client, actors)
    db = app.extensions["db"]
    assert grade_submission(db.engine, db.sessionmaker, sid, GradingSettings(3, 60)) == "timed-out"
    body = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    assert body["status"] == "failed" and "time budget" in body["failure_reason"]


def test_time_limits_must_stay_below_the_visibility_timeout(monkeypatch):
    from grader.service import create_app
    from grader.service.config import ConfigError

    monkeypatch.setenv("GRADER_GRADING_HARD_LIMIT", "400")
    with pytest.raises(ConfigError, match="VISIBILITY_TIMEOUT"):
        create_app({"BROKER_URL": "memory://"})


def test_the_lease_is_at_least_three_seconds(monkeypatch):
    from grader.service import create_app
    from grader.service.config import ConfigError

    monkeypatch.setenv("GRADER_GRADING_LEASE", "2")
    with pytest.raises(ConfigError, match="GRADING_LEASE"):
        create_app({"BROKER_URL": "memory://"})


def test_a_grading_keeps_its_lease_while_it_runs_and_a_dead_ones_runs_out(
    app, client, actors, assignment, enqueued
):
    from grader.service.leases import Renewer
    from grader.service.models import Status, Submission, utcnow
    from grader.service.operations.submissions import stuck_submissions

    running, dead = _submit(client, actors), _submit(client, actors, who="learner2")
    db = app.extensions["db"]
    soon = utcnow() + timedelta(seconds=1)
    with app.app_context(), db.session_scope() as s:
        for sid in (running, dead):
            row = s.get(Submission, sid)
            row.status, row.lease_until = Status.GRADING, soon
    renewer = Renewer()
    with renewer.hold(db.engine, running, 60):
        assert renewer.renew_now() == 1
        with app.app_context(), db.session_scope() as s:
            lease = s.get(Submission, running).lease_until
            assert lease.replace(tzinfo=None) > (utcnow() + timedelta(seconds=50)).replace(
                tzinfo=None
            )
            # The dead process's grading is stuck as soon as its lease runs out, however
            # recently it was claimed.
            s.get(Submission, dead).lease_until = utcnow() - timedelta(seconds=1)
        with app.app_context(), db.session_scope() as s:
            assert stuck_submissions(s, stuck_after=120) == [dead]
        with app.app_context(), db.session_scope() as s:
            assert stuck_submissions(s, stuck_after=120) == []  # re-sent: wait before again
    assert renewer.renew_now() == 0  # released: nothing is renewed any more


def test_a_failed_submission_is_graded_by_hand_and_the_learner_is_told_the_truth(
    app, client, actors, assignment, enqueued
):
    from grader.service.models import Submission

    sid = _submit(client, actors)
    db = app.extensions["db"]
    with app.app_context(), db.session_scope() as s:
        s.get(Submission, sid).deliveries = 3
    from grader.service.grade_task import GradingSettings, grade_submission

    assert grade_submission(db.engine, db.sessionmaker, sid, GradingSettings(3, 60)) == "failed"
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert "grade it by hand" in mine["failure_reason"]
    staff = actors.h("instructor")
    url = f"/api/v1/submissions/{sid}/grade-by-hand"
    points = {"problem_identification": 25, "prioritization": 20, "solution_design": 18}
    missing = client.post(url, json={"points": points, "reason": "read it"}, headers=staff)
    assert (
        missing.status_code == 422 and "risk_management" in missing.get_json()["error"]["message"]
    )
    too_many = {**points, "risk_management": 21}
    assert (
        client.post(url, json={"points": too_many, "reason": "r"}, headers=staff).status_code == 422
    )
    assert (
        client.post(
            url, json={"points": points, "reason": "r"}, headers=actors.h("learner")
        ).status_code
        == 403
    )
    r = client.post(
        url,
        json={
            "points": {**points, "risk_management": 12},
            "reason": "The worker crashed on this answer; read and graded by hand.",
            "comment": "A solid plan; the rollback needs numbers.",
        },
        headers=staff,
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "graded" and body["grade"]["total"] == 75
    assert all(c["source"] == "override" for c in body["grade"]["criteria"])
    history = client.get(f"/api/v1/submissions/{sid}/history", headers=staff).get_json()["events"]
    assert history[-1]["action"] == "graded_by_hand" and history[-1]["reason"].startswith(
        "The worker"
    )
    # Only a failed one: a graded submission is overridden instead.
    again = client.post(
        url, json={"points": {**points, "risk_management": 1}, "reason": "r"}, headers=staff
    )
    assert again.status_code == 409
    # The worker leaves it alone: it has a grade for the assignment's versions.
    assert run_worker_inline(app, sid) == "already-graded"
    client.post(f"/api/v1/submissions/{sid}/release", headers=staff)
    seen = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert {c["feedback"] for c in seen["grade"]["criteria"]} == {
        "A solid plan; the rollback needs numbers."
    }


def test_platforms_hearing_of_releases_also_hear_of_withdrawn_grades(tmp_path, db_url):
    """Migration 0021: a platform registered for grade.released before grade.unreleased
    existed gets it too; others are left as they chose."""
    import json

    from grader.service.db import make_engine
    from grader.service.migrate import upgrade

    upgrade(db_url, "0020")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for name, events in (
            ("lms", ["submission.graded", "grade.released"]),
            ("quiet", ["submission.failed"]),
        ):
            conn.execute(
                text(
                    "INSERT INTO platforms (name, created_at, events, events_enabled) "
                    "VALUES (:n, CURRENT_TIMESTAMP, :e, true)"
                ),
                {"n": name, "e": json.dumps(events)},
            )
    upgrade(db_url, "head")
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT name, events FROM platforms")).all())
    events = {k: json.loads(v) if isinstance(v, str) else v for k, v in rows.items()}
    assert events["lms"] == ["submission.graded", "grade.released", "grade.unreleased"]
    assert events["quiet"] == ["submission.failed"]
    engine.dispose()
