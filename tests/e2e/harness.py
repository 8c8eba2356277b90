"""Real processes for end-to-end tests and benchmarks: redis-server, gunicorn, celery worker.

Nothing here is mocked: each piece is the program users run, started on free loopback ports
with its own database and its own redis-server, and stopped (or killed) by the caller.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """A private redis-server on a free port, for fault tests: no persistence, or with
    ``aof`` an append-only file synced every second (as a production broker would run)."""

    def __init__(self, workdir: Path, *, aof: bool = False):
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.workdir, self.aof, self.binary = workdir, aof, binary
        workdir.mkdir(parents=True, exist_ok=True)
        self.start()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.aof else []
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--maxmemory-policy",
                "noeviction",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._ping, 10, what="redis-server")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@dataclass
class Service:
    """The environment shared by the web server, workers and the test process."""

    workdir: Path
    database_url: str
    redis_url: str
    settings: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)
    apps: list[Any] = field(default_factory=list)
    web_port: int | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        env.update(
            {
                "GRADER_INSTANCE_PATH": str(self.workdir / "instance"),
                "GRADER_DATABASE_URL": self.database_url,
                "GRADER_REDIS_URL": self.redis_url,
                "GRADER_SECRET_KEY": "e2e-secret",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(self.settings)
        return env

    def app(self) -> Any:
        """A Flask app in this process, configured like the servers (for setup and checks)."""
        from grader.service import create_app

        app = create_app(
            {
                "INSTANCE_PATH": str(self.workdir / "instance"),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "SECRET_KEY": "e2e-secret",
            }
        )
        self.apps.append(app)  # its connections are closed in stop_all, even if a test fails
        return app

    def start_worker(
        self, *, concurrency: int = 2, beat: bool = True, name: str | None = None
    ) -> subprocess.Popen[bytes]:
        name = name or f"w{len(self.procs)}-{uuid.uuid4().hex[:6]}"
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker.celery_app",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        if beat:
            cmd += ["--beat", "--schedule", str(self.workdir / f"{name}-beat")]
        proc = self._spawn(cmd, f"{name}.log")
        wait_for(
            lambda: (
                b"ready." in (self.workdir / f"{name}.log").read_bytes() or proc.poll() is not None
            ),
            60,
            what=f"worker {name}",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {(self.workdir / f'{name}.log').read_text()}")
        return proc

    def start_beat(self) -> subprocess.Popen[bytes]:
        """celery beat on its own (the reconciler's schedule), logging to beat.log."""
        cmd = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat"]
        cmd += ["--schedule", str(self.workdir / "beat-schedule"), "--loglevel", "INFO"]
        return self._spawn(cmd, "beat.log")

    def _spawn(self, cmd: list[str], log_name: str) -> subprocess.Popen[bytes]:
        """A service process in its own session (so stop_all can kill its group), its output
        in log_name under the work folder; both are cleaned up in stop_all."""
        log = open(self.workdir / log_name, "wb")  # noqa: SIM115 - closed in stop_all
        self.logs.append(log)
        proc = subprocess.Popen(
            cmd,
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_web(self, *, workers: int = 2) -> int:
        port = free_port()
        proc = self._spawn(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "grader.service.wsgi:app",
            ],
            "web.log",
        )
        self.web_port = port
        wait_for(lambda: self._healthy(port) or proc.poll() is not None, 60, what="gunicorn")
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {(self.workdir / 'web.log').read_text()}")
        return port

    @staticmethod
    def _healthy(port: int) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """kill -9 the process and everything it started (a worker's pool children)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(proc)
        for log in self.logs:
            log.close()
        for app in self.apps:
            app.extensions["db"].engine.dispose()


def request(
    port: int,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP request to the web server; JSON bodies in and out where it applies."""
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data: bytes | None
    if isinstance(body, dict):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
        hdrs.setdefault("Content-Type", "text/markdown")
    else:
        data = body
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    ctype = resp.getheader("Content-Type", "")
    return resp.status, json.loads(raw) if "json" in ctype and raw else raw.decode()


def chunked_post(
    port: int,
    path: str,
    payload: bytes,
    *,
    token: str,
    content_type: str = "text/markdown",
    chunk: int = 8192,
) -> tuple[int, Any]:
    """POST with Transfer-Encoding: chunked and no Content-Length."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", path)
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", content_type)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for i in range(0, len(payload), chunk):
            piece = payload[i : i + chunk]
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer 413 and close before reading everything
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw) if raw.startswith(b"{") else raw.decode()


def setup_database(service: Service, *, extra_learners: int = 0) -> dict[str, str]:
    """Migrate, create the assignment and one account per role (plus ``extra_learners``
    learners named learner-0, learner-1...); return name -> token."""
    from grader.service.auth import issue_token
    from grader.service.migrate import upgrade
    from grader.service.models import Assignment, Role, User
    from grader.service.operations.rubrics import rubric_path, store_rubric

    upgrade(service.database_url)
    app = service.app()
    tokens: dict[str, str] = {}
    with app.app_context(), app.extensions["db"].session_scope() as session:
        version = store_rubric(
            session, rubric_path(app.config["RUBRICS_DIR"], "ml-health-check.toml")
        )
        session.add(
            Assignment(
                slug="ml-health-check",
                title="ML System Health Check",
                rubric_file="ml-health-check.toml",
                rubric_version=version.version,
            )
        )
        people = [
            ("instructor", Role.INSTRUCTOR),
            ("learner", Role.LEARNER),
            ("learner2", Role.LEARNER),
            ("admin", Role.ADMIN),
        ]
        people += [(f"learner-{i}", Role.LEARNER) for i in range(extra_learners)]
        for who, role in people:
            user = User(name=f"E2E {who}", role=role)
            session.add(user)
            session.flush()
            tokens[who] = issue_token(session, user, who)
    app.extensions["db"].engine.dispose()
    return tokens
