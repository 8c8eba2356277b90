"""Faults during grading: kill -9 processes and servers mid-stream, then count what survived.

For each broker (a private redis-server with AOF everysec, and the embedded SQLite default),
it starts gunicorn, a celery worker and a beat process at the default delivery settings,
submits ``--submissions`` answers over HTTP at ``--rate`` per second, and meanwhile kills
with -9, every ``--spacing`` seconds in turn and ``--rounds`` times over: a pool child, the
whole worker (then starts a new one), and on Redis the redis-server (then restarts it on
its AOF). With ``--kill-database`` and a PostgreSQL URL it also stops the machine's
PostgreSQL in immediate mode and starts it again (not for a shared server). It prints
accepted, refused, graded, lost and doubled submissions, and for each fault how long after
it ended grading resumed and when the gradings in flight at the fault were graded (target:
under 30 s).

    python bench/faults.py [--brokers redis,sqlite] [--submissions 1000] [--rate 20] [--rounds 1]
        [--database-url postgresql://postgres@127.0.0.1:5432/grader_faults] [--kill-database]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

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

    def pending(self) -> set[int]:
        """Everything not graded yet (queued or grading): what a broker outage held up."""
        with self.app.app_context(), self.db.session_scope() as s:
            query = select(self.Submission.id).where(
                self.Submission.status.in_([self.Status.QUEUED, self.Status.GRADING])
            )
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


class Submitter(threading.Thread):
    """Submits answers at a steady rate for the whole run, faults included."""

    def __init__(self, port: int, token: str, total: int, rate: float):
        super().__init__(daemon=True)
        self.port, self.token, self.total, self.rate = port, token, total, rate
        self.accepted: list[int] = []
        self.refused: dict[str, int] = {}
        self.texts = [p.read_text() for p in ANSWERS]

    def run(self) -> None:
        started = time.monotonic()
        for i in range(self.total):
            time.sleep(max(0.0, started + i / self.rate - time.monotonic()))
            body = self.texts[i % len(self.texts)] + f"\n\n<!-- fault run {i} -->\n"
            try:
                code, reply = request(self.port, "POST", SUBMIT, token=self.token, body=body)
            except OSError as exc:
                code, reply = 0, type(exc).__name__
            if code == 202:
                self.accepted.append(reply["id"])
            else:
                key = str(code or reply)
                self.refused[key] = self.refused.get(key, 0) + 1


def _pool_child(worker: subprocess.Popen[bytes]) -> int:
    children = _children(worker.pid)
    if not children:
        raise RuntimeError("the worker has no pool child")
    return children[0]


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
        # Beat in a process of its own, so every child of the worker is a pool child.
        svc.start_beat()
        worker = svc.start_worker(concurrency=2, beat=False)
        submitter = Submitter(port, svc.tokens["learner"], args.submissions, args.rate)
        submitter.start()
        faults = ["pool child", "whole worker"]
        if redis is not None:
            faults.append("redis-server")
        if args.kill_database and database.startswith("postgresql"):
            faults.append("postgresql")
        for name in faults * args.rounds:
            time.sleep(args.spacing)
            if name in ("pool child", "whole worker"):
                # Strike while a grading runs, so there is work in flight to recover.
                deadline = time.monotonic() + 10
                while not counter.in_flight() and time.monotonic() < deadline:
                    time.sleep(0.002)
            # The kill, then what it left behind (gradings in flight, grades so far), then
            # the restart: recovery counts from the moment the fault is over.
            if name == "pool child":
                os.kill(_pool_child(worker), signal.SIGKILL)
            elif name == "whole worker":
                svc.kill(worker)
            elif name == "redis-server":
                assert redis is not None
                redis.proc.kill()
                redis.proc.wait(10)
            else:
                version = sorted(os.listdir("/etc/postgresql"))[-1]
                subprocess.run(["pg_ctlcluster", version, "main", "stop", "-m", "immediate"])
            flying = counter.in_flight() if name != "postgresql" else set()
            before = counter.graded()
            time.sleep(2 if name in ("redis-server", "postgresql") else 0)
            if name == "whole worker":
                worker = svc.start_worker(concurrency=2, beat=False)
            elif name == "redis-server":
                assert redis is not None
                redis.start()
            elif name == "postgresql":
                subprocess.run(["pg_ctlcluster", version, "main", "start"], check=True)
                while (before := counter.graded()) < 0:  # the database answers again
                    time.sleep(0.1)
            ended = time.monotonic()
            if name in ("redis-server", "postgresql"):
                flying = counter.pending()  # held up by the outage, the unsent included
            print(f"[{broker}] kill -9 {name}: {_recovery(counter, before, flying, ended)}")
        submitter.join()
        accepted = submitter.accepted
        done = wait_for(
            lambda: counter.graded() >= len(accepted), 600, interval=0.5, what="every grade"
        )
        graded = counter.graded()
        grades_doubled, audits_doubled = counter.doubled()
        print(
            f"[{broker}] accepted {len(accepted)} (refused {submitter.refused or 0}), "
            f"graded {graded}, lost {len(accepted) - graded}, doubled {grades_doubled} grades"
            f" / {audits_doubled} audit entries{'' if done else ' (timed out)'}"
        )
    finally:
        svc.stop_all()
        if redis is not None:
            redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default="redis,sqlite")
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="submissions per second")
    parser.add_argument("--spacing", type=float, default=8.0, help="seconds between faults")
    parser.add_argument("--rounds", type=int, default=1, help="times through the faults")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--kill-database", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the logs' directories")
    args = parser.parse_args()
    # SIGTERM (a timeout, a Ctrl-C elsewhere) still stops every process this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for broker in args.brokers.split(","):
        if args.keep:
            tmp = tempfile.mkdtemp(prefix=f"faults-{broker}-")
            print(f"[{broker}] logs in {tmp}")
            run(broker, args, Path(tmp))
            continue
        with tempfile.TemporaryDirectory(prefix=f"faults-{broker}-") as tmp:
            run(broker, args, Path(tmp))


if __name__ == "__main__":
    main()
