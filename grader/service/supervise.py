"""Keep the processes `grader run` starts alive, and stop each with everything it started.

`grader run` is how most people first run grader, on one machine with no process manager:
if the worker or the web server dies (a crash, an out-of-memory kill, kill -9), it is
started again after a short back-off instead of leaving half a service. Each child runs in
its own process group, so stopping (Ctrl-C, SIGTERM) or restarting one also ends what it
started (pool children, the embedded beat, gunicorn's workers): nothing is orphaned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Child", "supervise"]

_POLL = 0.25
_STABLE_AFTER = 60.0  # a child that ran this long restarts without back-off
_MAX_BACKOFF = 30.0
_STOP_GRACE = 15.0


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(list(self.argv), env=self.env, start_new_session=True)
        self.started = time.monotonic()
        self.restart_at = None

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def supervise(children: list[Child], echo: Callable[[str], None]) -> None:
    """Run the children until Ctrl-C or SIGTERM, restarting any that exits."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop)
    for child in children:
        child.start()
    try:
        while not stopping:
            now = time.monotonic()
            for child in children:
                _tend(child, now, echo)
            time.sleep(_POLL)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_all(children)


def _tend(child: Child, now: float, echo: Callable[[str], None]) -> None:
    proc = child.proc
    if child.restart_at is not None:
        if now >= child.restart_at:
            child.restarts += 1
            echo(f"starting {child.name} again (restart {child.restarts})")
            child.start()
        return
    if proc is None or proc.poll() is None:
        return
    # Whatever the dead process started (pool children, beat, web workers) goes with it,
    # so the new one can bind the port and no second beat lingers.
    child.signal_group(signal.SIGKILL)
    child.failures = 0 if now - child.started >= _STABLE_AFTER else child.failures + 1
    delay = min(_MAX_BACKOFF, 0.5 * 2**child.failures) if child.failures else 0.5
    echo(f"{child.name} exited (code {proc.returncode}); starting it again in {delay:g} s")
    child.restart_at = now + delay


def _stop_all(children: list[Child]) -> None:
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        # Anything left in the group (a beat or pool child slow to exit) is killed.
        child.signal_group(signal.SIGKILL)
