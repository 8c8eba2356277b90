"""Grading leases that the grading process renews while it works.

A claimed submission carries ``lease_until``. A process that grades renews the leases of
what it holds every third of ``GRADING_LEASE`` from one background thread (a single UPDATE
for all of them), so a lease outlives its grading only when the process is gone: the
reconciler then starts the grading again within ``GRADING_LEASE + RECONCILE_INTERVAL``
seconds (about 20 s by default) instead of waiting out the longest possible grading.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, update

from .models import Status, Submission, utcnow

log = logging.getLogger(__name__)

_ACTIVE = (Status.QUEUED, Status.GRADING)


class Renewer:
    """The leases this process holds, renewed from one daemon thread."""

    def __init__(self) -> None:
        self._held: dict[int, int] = {}  # submission id -> how many holds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._engine: Engine | None = None
        self._seconds = 0.0

    @contextmanager
    def hold(self, engine: Engine, submission_id: int, seconds: float) -> Iterator[None]:
        """Keep renewing ``submission_id``'s lease for ``seconds`` at a time while inside."""
        with self._lock:
            self._engine, self._seconds = engine, float(seconds)
            self._held[submission_id] = self._held.get(submission_id, 0) + 1
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()  # a forked child starts its own thread
                self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                left = self._held.get(submission_id, 1) - 1
                if left:
                    self._held[submission_id] = left
                else:
                    self._held.pop(submission_id, None)

    def renew_now(self) -> int:
        """Renew every held lease once; returns how many rows were renewed."""
        with self._lock:
            ids, engine, seconds = list(self._held), self._engine, self._seconds
        if not ids or engine is None:
            return 0
        statement = (
            update(Submission)
            .where(Submission.id.in_(ids), Submission.status.in_(_ACTIVE))
            .values(lease_until=utcnow() + timedelta(seconds=seconds))
        )
        with engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def _run(self) -> None:
        while True:
            self._wake.wait(max(0.5, self._seconds / 3))
            try:
                self.renew_now()
            except Exception:  # a database hiccup: the next round tries again
                log.warning("could not renew grading leases", exc_info=True)


RENEWER = Renewer()
