"""docker-compose.yml describes the production shape (no Docker engine runs in CI here, so
its structure is checked statically)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .conftest import ROOT


def test_compose_services_share_one_anchor_and_have_health_checks():
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert {"web", "worker", "beat", "redis", "postgres"} <= set(services)
    for name in ("web", "worker", "beat", "redis", "postgres"):
        assert "healthcheck" in services[name], name
    assert text.count("<<: *grader") == 4  # migrate, web, worker, beat
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["GRADER_REDIS_URL"].startswith("redis://redis:")
        assert env["GRADER_DATABASE_URL"].startswith("postgresql")
        assert "${GRADER_SECRET_KEY" in env["GRADER_SECRET_KEY"]
    # The worker can be scaled: no fixed container name or host port.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis and "--appendfsync everysec" in redis
    assert "--maxmemory-policy noeviction" in redis


def test_gunicorn_timeout_and_worker_class_are_set_everywhere():
    """The web tier's timeout and worker class are chosen, not defaults, in all three places."""
    import inspect

    from grader.service import commands

    root = Path(__file__).resolve().parent.parent
    sources = [
        inspect.getsource(commands),
        (root / "Dockerfile").read_text(),
        (root / "docker-compose.yml").read_text(),
    ]
    for text in sources:
        assert '"--worker-class"' in text and '"sync"' in text
        assert '"--timeout"' in text and '"60"' in text
