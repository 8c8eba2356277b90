"""Shared fixtures: test data paths and the health-check rubric."""

from __future__ import annotations

import csv
from pathlib import Path
from statistics import mean

import pytest

from grader.scoring import Rubric, load_rubric

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HEALTH = DATA / "health-check"
ADVERSARIAL = DATA / "adversarial"
GAMING = DATA / "gaming"
RUBRIC_PATH = ROOT / "rubrics" / "ml-health-check.toml"


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric(RUBRIC_PATH)


def human_grades() -> dict[str, dict[str, float]]:
    """The mean of the two graders, per file and criterion (and 'total')."""
    per: dict[str, dict[str, list[float]]] = {}
    with open(HEALTH / "grades.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            entry = per.setdefault(row["file"], {})
            for key in (
                "problem_identification",
                "prioritization",
                "solution_design",
                "risk_management",
                "total",
            ):
                entry.setdefault(key, []).append(float(row[key]))
    return {f: {k: mean(v) for k, v in d.items()} for f, d in per.items()}


@pytest.fixture()
def raw_rubric() -> dict:
    import tomllib

    return tomllib.loads(RUBRIC_PATH.read_text())


# --- service fixtures ---------------------------------------------------------------------
#
# Each test gets a fresh database: a temporary SQLite file, or, when GRADER_TEST_DATABASE_URL
# names a PostgreSQL server (as in CI), a fresh schema on it, dropped afterwards.

import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

PG_URL = os.environ.get("GRADER_TEST_DATABASE_URL", "")


@contextmanager
def fresh_database(directory: Path, pg_url: str | None = PG_URL) -> Iterator[str]:
    """A URL for an empty database: a SQLite file in directory, or a new schema of the
    PostgreSQL server at pg_url (dropped on exit, after the tests' engines have closed their
    connections)."""
    if not pg_url:
        yield f"sqlite:///{directory / 'test.db'}"
        return
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        while _APPS:
            _APPS.pop().extensions["db"].engine.dispose()
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture()
def db_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        yield url


def make_app(tmp_path: Path, db_url: str, **overrides):
    from grader.service import create_app
    from grader.service.models import Base

    config = {
        "DATABASE_URL": db_url,
        "BROKER_URL": "memory://",
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "TESTING": True,
        "RUBRICS_DIR": str(ROOT / "rubrics"),
    }
    config.update(overrides)
    app = create_app(config)
    Base.metadata.create_all(app.extensions["db"].engine)
    _APPS.append(app)
    return app


_APPS: list = []


@pytest.fixture(autouse=True)
def _dispose_engines():
    """Close every database connection a test's apps opened (PostgreSQL notices leaks)."""
    yield
    while _APPS:
        _APPS.pop().extensions["db"].engine.dispose()


@pytest.fixture()
def app(tmp_path: Path, db_url: str):
    return make_app(tmp_path, db_url)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def cli_runner(app):
    return app.test_cli_runner()


class Actors(dict):
    """Role name -> (user id, Authorization header)."""

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self[who][1]}"}

    def id(self, who: str) -> int:
        return self[who][0]


@pytest.fixture()
def actors(app) -> Actors:
    from grader.service.auth import issue_token
    from grader.service.models import Role, User

    out = Actors()
    with app.app_context():
        db = app.extensions["db"]
        with db.session_scope() as session:
            for who, role in (
                ("admin", Role.ADMIN),
                ("instructor", Role.INSTRUCTOR),
                ("instructor2", Role.INSTRUCTOR),
                ("learner", Role.LEARNER),
                ("learner2", Role.LEARNER),
            ):
                user = User(name=f"{who.title()} Person", role=role)
                session.add(user)
                session.flush()
                out[who] = (user.id, issue_token(session, user, who))
    return out


@pytest.fixture()
def assignment(client, actors) -> str:
    r = client.post(
        "/api/v1/assignments",
        headers=actors.h("instructor"),
        json={"slug": "ml-health-check", "rubric": "ml-health-check.toml"},
    )
    assert r.status_code == 201, r.get_json()
    return "ml-health-check"


def committed(submission_id: int) -> bool:
    """Whether the submission is visible from a connection of its own (that is, committed):
    what a worker would see if the task sent for it arrived at once."""
    from flask import current_app
    from sqlalchemy import select

    from grader.service.models import Submission

    with current_app.extensions["db"].engine.connect() as conn:
        found = conn.execute(select(Submission.id).where(Submission.id == submission_id))
        return found.first() is not None


def recording_sender(sent: list[int]):
    """A task sender that records instead of sending, and fails a send that comes before the
    submission's commit (a worker would find nothing, or an older state)."""

    def send(submission_id: int) -> bool:
        assert committed(submission_id), f"task for {submission_id} sent before its commit"
        sent.append(submission_id)
        return True

    return send


@pytest.fixture()
def enqueued(monkeypatch) -> list[int]:
    """Records grade tasks the web process sends, instead of sending them (each checked to
    come after the submission's commit)."""
    sent: list[int] = []
    import grader.service.api.submissions as s

    monkeypatch.setattr(s, "enqueue_grade", recording_sender(sent))
    return sent


def learner_tokens(app, n: int) -> list[str]:
    """n new learners' API tokens."""
    from grader.service.auth import issue_token
    from grader.service.models import Role, User

    tokens = []
    with app.app_context(), app.extensions["db"].session_scope() as session:
        for i in range(n):
            user = User(name=f"Learner {i}", role=Role.LEARNER)
            session.add(user)
            session.flush()
            tokens.append(issue_token(session, user, f"learner-{i}"))
    return tokens


def graded_answers(app, client, texts, slug: str = "ml-health-check", tokens=None) -> list[int]:
    """Each text submitted through the API by its own new learner (or ``tokens``) and
    graded inline; returns the submission ids."""
    ids = []
    tokens = tokens if tokens is not None else learner_tokens(app, len(texts))
    for token, text in zip(tokens, texts, strict=True):
        r = client.post(
            f"/api/v1/assignments/{slug}/submissions",
            data=text,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/markdown"},
        )
        assert r.status_code == 202, r.get_json()
        ids.append(r.get_json()["id"])
        assert run_worker_inline(app, ids[-1]) == "graded"
    return ids


def run_worker_inline(app, submission_id: int) -> str:
    """What the worker does for one message, called directly (unit tests only)."""
    from grader.service.grade_task import GradingSettings, grade_submission

    db = app.extensions["db"]
    return grade_submission(
        db.engine,
        db.sessionmaker,
        submission_id,
        GradingSettings(max_deliveries=3, lease_seconds=60),
    )


def graded(
    app,
    client,
    actors,
    who: str = "learner",
    name: str = "sub-029.md",
    *,
    key: str | None = None,
    release: bool = False,
) -> int:
    """A sample answer submitted through the API by ``who``, graded inline and, with
    ``release``, released by the instructor; returns its id."""
    headers = {**actors.h(who), "Content-Type": "text/markdown"}
    if key is not None:
        headers["Idempotency-Key"] = key
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data=(HEALTH / name).read_text(),
        headers=headers,
    )
    assert r.status_code == 202, r.get_json()
    sid = r.get_json()["id"]
    assert run_worker_inline(app, sid) == "graded"
    if release:
        r = client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
        assert r.status_code == 200, r.get_json()
    return sid


@pytest.fixture()
def jobs_inline(app, monkeypatch) -> list[int]:
    """Jobs (a regrade's dry run, sending a regrade) run at once in the test process, as the
    worker would run them; the grade tasks a regrade sends are recorded, not sent."""
    import grader.service.api.assignments as assignments
    import grader.service.api.calibrations as calibrations
    import grader.service.api.rubrics as rubric_api
    import grader.service.tasks as tasks
    from grader.service.operations import regrades

    sent: list[int] = []

    def run(job_id: int) -> bool:
        with app.app_context(), app.extensions["db"].session_scope() as session:
            regrades.run(
                session, job_id, app.config["RUBRICS_DIR"], lambda batch: sent.extend(batch) or True
            )
        return True

    monkeypatch.setattr(tasks, "enqueue_job", run)
    monkeypatch.setattr(assignments, "enqueue_job", run)
    monkeypatch.setattr(calibrations, "enqueue_job", run)
    monkeypatch.setattr(rubric_api, "enqueue_job", run)
    return sent
