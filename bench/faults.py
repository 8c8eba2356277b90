"""Faults during grading: kill -9 processes and servers mid-stream, then count what survived.

For each broker (a private redis-server with AOF everysec, and the embedded SQLite default),
it starts gunicorn and a celery worker (beat included) at the default delivery settings,
submits ``--submissions`` answers over HTTP, and while they are graded kills with -9, in
turn: a pool child, the whole worker (then starts a new one), and on Redis the
redis-server (then restarts it on its AOF). With ``--kill-database`` and a PostgreSQL URL it
also stops the machine's PostgreSQL in immediate mode and starts it again (not for a shared
server). It prints accepted, graded, lost and doubled submissions, and for each fault how
long after it ended grading resumed and when the last grading in flight at the fault
finished (target: under 30 s).

    python bench/faults.py [--brokers redis,sqlite] [--submissions 1000]
        [--database-url postgresql://postgres@127.0.0.1:5432/grader_faults] [--kill-database]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from tests.e2e.harness import (  # noqa: E402
    RedisServer,
    Service,
    request,
    setup_database,
    wait_for,
)

SUBMIT = "/api/v1/assignments/ml-health-check/submissions"
ANSWERS = sorted((ROOT / "tests" / "data" / "health-check").glob("sub-*.md"))


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _fresh_postgres(url: str) -> None:
    """Create the scratch database if missing and empty it."""
    base, name = url.rsplit("/", 1)
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


class Counter:
    """Grades and in-flight gradings, read from the database."""

    def __init__(self, svc: Service):
        from grader.service.models import Grade, Status, Submission

        self.app = svc.app()
        self.db = self.app.extensions["db"]
        self.Grade, self.Status, self.Submission = Grade, Status, Submission

    def graded(self) -> int:
        try:
            with self.app.app_context(), self.db.session_scope() as s:
                query = select(func.count(func.distinct(self.Grade.submission_id)))
                return int(s.scalar(query) or 0)
        except Exception:  # the database is down during its own fault
            return -1

    def in_flight(self) -> set[int]:
        with self.app.app_context(), self.db.session_scope() as s:
            query = select(self.Submission.id).where(self.Submission.status == self.Status.GRADING)
            return set(s.scalars(query))

    def settled(self, ids: set[int]) -> bool:
        if not ids:
            return True
        try:
            with self.app.app_context(), self.db.session_scope() as s:
                query = select(func.count(func.distinct(self.Grade.submission_id))).where(
                    self.Grade.submission_id.in_(ids)
                )
                return int(s.scalar(query) or 0) == len(ids)
        except Exception:
            return False

    def doubled(self) -> tuple[int, int]:
        from grader.service.models import AuditEvent

        with self.app.app_context(), self.db.session_scope() as s:
            grades = s.execute(
                select(self.Grade.submission_id)
                .group_by(self.Grade.submission_id)
                .having(func.count() > 1)
            ).all()
            audits = s.execute(
                select(AuditEvent.submission_id)
                .where(AuditEvent.action == "graded")
                .group_by(AuditEvent.submission_id)
                .having(func.count() > 1)
            ).all()
        return len(grades), len(audits)


def _recovery(counter: Counter, before: int, flying: set[int], ended: float) -> str:
    """Seconds from the end of a fault until grading resumed and until what was in flight
    at the fault was graded."""
    resumed = settled = None
    deadline = ended + 180
    while time.monotonic() < deadline and (resumed is None or settled is None):
        now = time.monotonic()
        if resumed is None and counter.graded() > before:
            resumed = now - ended
        if settled is None and counter.settled(flying):
            settled = now - ended
        time.sleep(0.1)
    fmt = lambda v: "never" if v is None else f"{v:.1f} s"  # noqa: E731
    return (
        f"grading resumed after {fmt(resumed)}, {len(flying)} in flight graded after {fmt(settled)}"
    )


def run(broker: str, args: argparse.Namespace, workdir: Path) -> None:
    redis = RedisServer(workdir / "redis", aof=True) if broker == "redis" else None
    database = args.database_url or f"sqlite:///{workdir / 'grader.db'}"
    if database.startswith("postgresql"):
        _fresh_postgres(database)
    svc = Service(workdir=workdir, database_url=database, redis_url=redis.url if redis else "")
    svc.tokens = setup_database(svc)  # type: ignore[attr-defined]
    counter = Counter(svc)
    try:
        port = svc.start_web(workers=2)
        texts = [p.read_text() for p in ANSWERS]
        accepted, refused = [], 0
        for i in range(args.submissions):
            body = texts[i % len(texts)] + f"\n\n<!-- fault run {i} -->\n"
            code, reply = request(port, "POST", SUBMIT, token=svc.tokens["learner"], body=body)
            if code == 202:
                accepted.append(reply["id"])
            else:
                refused += 1
        print(f"[{broker}] accepted {len(accepted)} (refused {refused})")
        worker = svc.start_worker(concurrency=2)
        faults: list[tuple[str, Any]] = [
            ("pool child", lambda: os.kill(_children(worker.pid)[0], signal.SIGKILL)),
            ("whole worker", None),
        ]
        if redis is not None:
            faults.append(("redis-server", None))
        if args.kill_database and database.startswith("postgresql"):
            faults.append(("postgresql", None))
        for name, action in faults:
            wait_for(lambda: counter.graded() >= 20, 120, what="some grades")
            time.sleep(1.0)
            flying, before = counter.in_flight(), counter.graded()
            if name == "whole worker":
                svc.kill(worker)
                worker = svc.start_worker(concurrency=2)
            elif name == "redis-server":
                assert redis is not None
                redis.proc.kill()
                redis.proc.wait(10)
                time.sleep(2)
                redis.start()
            elif name == "postgresql":
                version = sorted(os.listdir("/etc/postgresql"))[-1]
                subprocess.run(["pg_ctlcluster", version, "main", "stop", "-m", "immediate"])
                time.sleep(3)
                subprocess.run(["pg_ctlcluster", version, "main", "start"], check=True)
            else:
                action()
            ended = time.monotonic()
            print(f"[{broker}] kill -9 {name}: {_recovery(counter, before, flying, ended)}")
        done = wait_for(
            lambda: counter.graded() >= len(accepted), 600, interval=0.5, what="every grade"
        )
        graded = counter.graded()
        grades_doubled, audits_doubled = counter.doubled()
        print(
            f"[{broker}] accepted {len(accepted)}, graded {graded}, "
            f"lost {len(accepted) - graded}, doubled {grades_doubled} grades / "
            f"{audits_doubled} audit entries{'' if done else ' (timed out)'}"
        )
    finally:
        svc.stop_all()
        if redis is not None:
            redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default="redis,sqlite")
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--kill-database", action="store_true")
    args = parser.parse_args()
    for broker in args.brokers.split(","):
        with tempfile.TemporaryDirectory(prefix=f"faults-{broker}-") as tmp:
            run(broker, args, Path(tmp))


if __name__ == "__main__":
    main()
