"""Settings: defaults, then the environment, then an explicit override (tests).

Read only inside create_app, never at import time. Secrets come from the environment; for
the embedded default (`make run`) a secret key is generated once into the instance folder.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Storage and queue. Unset URLs mean the embedded default: SQLite files in the instance
    # folder for the database and for Celery's broker (kombu's SQLAlchemy transport).
    "DATABASE_URL": None,
    "REDIS_URL": None,
    "BROKER_URL": None,
    # Requests.
    "MAX_SUBMISSION_BYTES": 256 * 1024,
    "MAX_CONTENT_LENGTH": None,  # enforced per route on what is actually read
    # Review queue. Grades at or above AUTO_RELEASE_CONFIDENCE may be bulk-released unseen
    # (release mode "confidence" without min_confidence); every grade below it says why.
    "AUTO_RELEASE_CONFIDENCE": 0.8,
    "CLAIM_SECONDS": 15 * 60,
    # Sign-in throttling: more failures than these within SIGN_IN_WINDOW seconds, for one
    # account or from one client address, are answered 429 with Retry-After.
    "SIGN_IN_WINDOW": 15 * 60,
    "SIGN_IN_MAX_PER_ACCOUNT": 5,
    "SIGN_IN_MAX_PER_CLIENT": 20,
    "PAGE_SIZE": 50,
    "MAX_PAGE_SIZE": 200,
    # Delivery guarantees (seconds). A message unacked for VISIBILITY_TIMEOUT is redelivered
    # by Redis; the reconciler re-enqueues submissions idle in queued/grading for STUCK_AFTER.
    "VISIBILITY_TIMEOUT": 300,
    "RESTORE_INTERVAL": 30,
    "RECONCILE_INTERVAL": 5,
    "STUCK_AFTER": 120,
    # A claimed grading's lease, renewed every third of it while the grading runs: once it
    # runs out the grading process is gone and the reconciler starts the grading again.
    "GRADING_LEASE": 15,
    # Seconds a grading may run: past the soft limit it ends failed; the hard limit kills it.
    "GRADING_SOFT_LIMIT": 60,
    "GRADING_HARD_LIMIT": 90,
    "MAX_DELIVERIES": 3,
    # The worker commits to PostgreSQL without waiting for the WAL flush: all it writes is
    # re-derived if a crash loses it (the reconciler regrades anything left queued or
    # grading), and any later synchronous commit (a submit, an override) flushes it first.
    "WORKER_ASYNC_COMMIT": True,
    # "web" or "worker" (set by the worker's entry point).
    "PROCESS_ROLE": "web",
    # Rubrics instructors may create assignments from.
    "RUBRICS_DIR": None,
    # Test hook: when true, an answer containing FAULT_MARKER kills the worker process that
    # grades it (for the poison-message test). Never enable it in production.
    "FAULT_INJECTION": False,
    # Send the web pages' session cookie over HTTPS only (set it when serving over HTTPS).
    "SESSION_COOKIE_SECURE": False,
    "FAULT_MARKER": "GRADER-FAULT-CRASH-WORKER",
    "SECRET_KEY": None,
    "TESTING": False,
    # Course platforms' webhooks (grader.service.webhooks). Outbound retries follow the
    # Standard Webhooks schedule multiplied by WEBHOOK_RETRY_SCALE (tests compress it);
    # WEBHOOK_ALLOWED_HOSTS (comma-separated names, IPs or networks) lifts the https and
    # public-address rules for those hosts only (tests: 127.0.0.1,localhost).
    "WEBHOOK_TIMEOUT": 10.0,
    "WEBHOOK_RETRY_SCALE": 1.0,
    "WEBHOOK_ALLOWED_HOSTS": "",
    "WEBHOOK_SWEEP_INTERVAL": 30,
    "WEBHOOK_RECEIPT_DAYS": 4,
    "WEBHOOK_SECRET_GRACE": 24 * 3600,
}

_ENV_INT = {
    "GRADING_SOFT_LIMIT",
    "GRADING_HARD_LIMIT",
    "MAX_SUBMISSION_BYTES",
    "CLAIM_SECONDS",
    "SIGN_IN_WINDOW",
    "SIGN_IN_MAX_PER_ACCOUNT",
    "SIGN_IN_MAX_PER_CLIENT",
    "PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "VISIBILITY_TIMEOUT",
    "RESTORE_INTERVAL",
    "RECONCILE_INTERVAL",
    "STUCK_AFTER",
    "GRADING_LEASE",
    "MAX_DELIVERIES",
    "WEBHOOK_SWEEP_INTERVAL",
    "WEBHOOK_RECEIPT_DAYS",
    "WEBHOOK_SECRET_GRACE",
}
_ENV_FLOAT = {"WEBHOOK_TIMEOUT", "WEBHOOK_RETRY_SCALE", "AUTO_RELEASE_CONFIDENCE"}
_ENV_STR = {
    "DATABASE_URL",
    "REDIS_URL",
    "BROKER_URL",
    "RUBRICS_DIR",
    "SECRET_KEY",
    "WEBHOOK_ALLOWED_HOSTS",
}
_ENV_BOOL = {"FAULT_INJECTION", "SESSION_COOKIE_SECURE", "WORKER_ASYNC_COMMIT"}


class ConfigError(RuntimeError):
    """A setting is missing or malformed: raised at start-up, never mid-request."""


def from_environment(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings given as GRADER_<NAME> (or the bare DATABASE_URL / REDIS_URL / SECRET_KEY)."""
    env = dict(os.environ if env is None else env)
    out: dict[str, Any] = {}
    for name in _ENV_INT | _ENV_FLOAT | _ENV_STR | _ENV_BOOL:
        raw = env.get(f"GRADER_{name}")
        if raw is None and name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
            raw = env.get(name)
        if raw is None or raw == "":
            continue
        if name in _ENV_INT:
            try:
                out[name] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"GRADER_{name} must be an integer, got {raw!r}") from exc
        elif name in _ENV_FLOAT:
            try:
                out[name] = float(raw)
            except ValueError as exc:
                raise ConfigError(f"GRADER_{name} must be a number, got {raw!r}") from exc
        elif name in _ENV_BOOL:
            out[name] = raw.lower() in ("1", "true", "yes", "on")
        else:
            out[name] = raw
    return out


def resolve(config: dict[str, Any], instance_path: str) -> dict[str, Any]:
    """Fill derived settings: database, broker and secret defaults under the instance folder."""
    instance = Path(instance_path)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'grader.db'}"
    if not config.get("BROKER_URL"):
        if config.get("REDIS_URL"):
            config["BROKER_URL"] = config["REDIS_URL"]
        else:
            instance.mkdir(parents=True, exist_ok=True)
            config["BROKER_URL"] = f"sqla+sqlite:///{instance / 'broker.db'}"
    if not config.get("RUBRICS_DIR"):
        config["RUBRICS_DIR"] = str(Path(__file__).resolve().parents[2] / "rubrics")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance)
    for name in (
        "MAX_SUBMISSION_BYTES",
        "CLAIM_SECONDS",
        "MAX_DELIVERIES",
        "PAGE_SIZE",
        "SIGN_IN_WINDOW",
        "SIGN_IN_MAX_PER_ACCOUNT",
        "SIGN_IN_MAX_PER_CLIENT",
    ):
        if int(config[name]) <= 0:
            raise ConfigError(f"{name} must be positive, got {config[name]!r}")
    for name in ("WEBHOOK_TIMEOUT", "WEBHOOK_SWEEP_INTERVAL", "WEBHOOK_RECEIPT_DAYS"):
        if float(config[name]) <= 0:
            raise ConfigError(f"{name} must be positive, got {config[name]!r}")
    soft, hard = int(config["GRADING_SOFT_LIMIT"]), int(config["GRADING_HARD_LIMIT"])
    if not 0 < soft < hard < int(config["VISIBILITY_TIMEOUT"]):
        raise ConfigError(
            "GRADING_SOFT_LIMIT < GRADING_HARD_LIMIT < VISIBILITY_TIMEOUT must hold "
            f"(got {soft}, {hard}, {config['VISIBILITY_TIMEOUT']})"
        )
    if int(config["GRADING_LEASE"]) < 3:
        raise ConfigError(
            f"GRADING_LEASE must be at least 3 seconds (got {config['GRADING_LEASE']}): it is "
            "renewed every third of it"
        )
    level = config["AUTO_RELEASE_CONFIDENCE"]
    if not 0 <= float(level) <= 1:
        raise ConfigError(f"AUTO_RELEASE_CONFIDENCE must be from 0 to 1, got {level!r}")
    for name in ("WEBHOOK_RETRY_SCALE", "WEBHOOK_SECRET_GRACE"):
        if float(config[name]) < 0:
            raise ConfigError(f"{name} must not be negative, got {config[name]!r}")
    return config


def _instance_secret(instance: Path) -> str:
    """A per-installation secret for the embedded default, created once with mode 0600."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (web or worker) made it first
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    for _ in range(50):
        secret = path.read_text().strip()
        if secret:
            return secret
        time.sleep(0.01)
    raise ConfigError(f"{path} is empty: delete it or set GRADER_SECRET_KEY")
