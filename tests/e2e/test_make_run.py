"""The embedded default, as `make run` starts it: no Redis, SQLite for data and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ..conftest import HEALTH
from .harness import ROOT, free_port, request, wait_for


def test_grader_run_serves_grades_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update({"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT)})
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "run", "--port", str(port), "--concurrency", "1"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(
                lambda: b"is running on" in log.read_bytes() or proc.poll() is not None,
                60,
                what="grader run",
            )
            assert proc.poll() is None, log.read_text()
            text = log.read_text()
            learner = next(
                line.split("token: ")[1].strip()
                for line in text.splitlines()
                if "learner@example.test" in line
            )
            staff = next(
                line.split("token: ")[1].strip()
                for line in text.splitlines()
                if "instructor@example.test" in line
            )

            def ready() -> bool:
                try:
                    return request(port, "GET", "/readyz")[0] == 200
                except OSError:
                    return False

            wait_for(ready, 60, interval=0.2, what="readyz")
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
