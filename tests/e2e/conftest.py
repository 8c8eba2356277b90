"""Fixtures for end-to-end tests: a real redis-server, real worker and gunicorn processes.

Without redis-server these tests skip, except where GRADER_REQUIRE_E2E=1 (CI), where a
missing server is a failure: in CI they must run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import RedisServer, Service, redis_server_binary, setup_database


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if redis_server_binary() is None:
        if os.environ.get("GRADER_REQUIRE_E2E") == "1":
            pytest.fail("redis-server is required for end-to-end tests (GRADER_REQUIRE_E2E=1)")
        pytest.skip("redis-server not installed: apt-get install redis-server")
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture(params=["redis", "sqlite"])
def service(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Iterator[Service]:
    """The service on each broker: a real redis-server, and the embedded default (SQLite,
    grader.service.sqlite_broker), which must give the same guarantees."""
    redis_url = request.getfixturevalue("redis_server").url if request.param == "redis" else ""
    svc = Service(
        workdir=tmp_path,
        database_url=db_url,
        redis_url=redis_url,
        settings={
            # Compressed delivery timings so recovery happens within a test's patience.
            "GRADER_VISIBILITY_TIMEOUT": "8",
            "GRADER_RESTORE_INTERVAL": "2",
            "GRADER_RECONCILE_INTERVAL": "2",
            "GRADER_STUCK_AFTER": "6",
            "GRADER_GRADING_LEASE": "6",
            "GRADER_GRADING_SOFT_LIMIT": "4",
            "GRADER_GRADING_HARD_LIMIT": "6",
            "GRADER_FAULT_INJECTION": "1",
        },
    )
    svc.tokens = setup_database(svc)  # type: ignore[attr-defined]
    yield svc
    svc.stop_all()
