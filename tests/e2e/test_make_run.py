"""The embedded default, as `make run` starts it: no Redis, SQLite for data and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

from ..conftest import HEALTH
from .harness import ROOT, free_port, request, wait_for


def _grader_run(tmp_path: Path, port: int, out: BinaryIO) -> subprocess.Popen[bytes]:
    """`grader run` as `make run` starts it (the embedded default), its output in out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update({"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT)})
    return subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "run", "--port", str(port), "--concurrency", "1"],
        env=env,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _started(proc: subprocess.Popen[bytes], log: Path, port: int) -> tuple[str, str]:
    """Wait until the service answers; the demo learner's and instructor's tokens."""
    wait_for(
        lambda: b"is running on" in log.read_bytes() or proc.poll() is not None,
        60,
        what="grader run",
    )
    assert proc.poll() is None, log.read_text()
    wait_for(lambda: _ready(port), 60, interval=0.2, what="readyz")
    lines = log.read_text().splitlines()
    learner, staff = (
        next(line.split("token: ")[1].strip() for line in lines if who in line)
        for who in ("learner@example.test", "instructor@example.test")
    )
    return learner, staff


def _ready(port: int) -> bool:
    try:
        return request(port, "GET", "/readyz")[0] == 200
    except OSError:
        return False


def test_grader_run_serves_grades_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = _grader_run(tmp_path, port, out)
        try:
            learner, staff = _started(proc, log, port)
            code, body = request(
                port,
                "POST",
                "/api/v1/assignments/ml-health-check/submissions",
                token=learner,
                body=(HEALTH / "sub-029.md").read_text(),
            )
            assert code == 202, body

            def graded() -> bool:
                _, sub = request(port, "GET", f"/api/v1/submissions/{body['id']}", token=staff)
                return sub["status"] == "graded"

            wait_for(graded, 60, interval=0.3, what="the worker to grade")
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(30)
    assert b"Traceback" not in log.read_bytes()
    # Both the web server and the worker are gone.
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "instance")], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == []


def _children(pid: int) -> dict[int, str]:
    """The direct children of a process, with their command lines (from /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry)] = cmdline.decode(errors="replace")
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_grader_run_starts_again_what_dies_and_leaves_nothing_behind(tmp_path):
    port = free_port()
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = _grader_run(tmp_path, port, out)
        seen: set[int] = set()
        try:
            learner, staff = _started(proc, log, port)

            def child(word: str) -> int | None:
                return next((p for p, c in _children(proc.pid).items() if word in c), None)

            # kill -9 the worker's main process: it is started again and grades.
            worker = child("celery")
            assert worker is not None
            wait_for(lambda: len(_children(worker)) >= 2, 60, what="pool and beat")
            seen |= {worker, *_children(worker)}
            os.kill(worker, signal.SIGKILL)
            code, body = request(
                port,
                "POST",
                "/api/v1/assignments/ml-health-check/submissions",
                token=learner,
                body=(HEALTH / "sub-029.md").read_text(),
            )
            assert code == 202, body

            def graded() -> bool:
                _, sub = request(port, "GET", f"/api/v1/submissions/{body['id']}", token=staff)
                return sub["status"] == "graded"

            wait_for(graded, 90, interval=0.3, what="the restarted worker to grade")
            assert child("celery") != worker
            # What the dead worker started (its pool child, its beat) went with it.
            assert not any(_alive(p) for p in seen)
            # kill -9 the web server's master: it is started again and answers.
            web = child("gunicorn")
            assert web is not None
            seen |= {web, *_children(web)}
            os.kill(web, signal.SIGKILL)
            wait_for(
                lambda: child("gunicorn") not in (None, web) and _ready(port), 60, what="web again"
            )
            assert not any(_alive(p) for p in seen)
            seen |= {p for p in (child("celery"), child("gunicorn")) if p is not None}
            seen |= {p for c in list(seen) for p in _children(c)}
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(30)
    output = log.read_text()
    assert "grading worker exited" in output and "web server exited" in output
    # Ctrl-C: every process grader run started, and theirs, has exited.
    wait_for(lambda: not any(_alive(p) for p in seen), 10, what="every process to exit")
