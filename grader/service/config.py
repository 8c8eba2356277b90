"""Settings: defaults, then the environment, then an explicit override (tests).

Read only inside create_app, never at import time. Secrets come from the environment; for
the embedded default (`make run`) a secret key is generated once into the instance folder.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting, typed and documented; each is read from ``GRADER_<NAME>`` (the URLs and
    the secret key also from the bare ``DATABASE_URL`` / ``REDIS_URL`` / ``SECRET_KEY``)."""

    model_config = SettingsConfigDict(
        env_prefix="GRADER_", extra="ignore", env_ignore_empty=True, validate_default=True
    )

    # Storage and queue. Unset URLs mean the embedded default: SQLite files in the instance
    # folder for the database and for Celery's broker.
    DATABASE_URL: str | None = Field(
        None, validation_alias=AliasChoices("GRADER_DATABASE_URL", "DATABASE_URL")
    )
    REDIS_URL: str | None = Field(
        None, validation_alias=AliasChoices("GRADER_REDIS_URL", "REDIS_URL")
    )
    BROKER_URL: str | None = Field(None, description="Celery broker; defaults to REDIS_URL.")
    INSTANCE_PATH: str | None = Field(None, description="Folder for the embedded default's files.")
    # Requests.
    MAX_SUBMISSION_BYTES: PositiveInt = 256 * 1024
    # Review queue. Grades at or above AUTO_RELEASE_CONFIDENCE may be bulk-released unseen
    # (release mode "confidence" without min_confidence); every grade below it says why.
    AUTO_RELEASE_CONFIDENCE: float = Field(0.8, ge=0, le=1)
    CLAIM_SECONDS: PositiveInt = 15 * 60
    # Sign-in throttling: more failures than these within SIGN_IN_WINDOW seconds, for one
    # account or from one client address, are answered 429 with Retry-After.
    SIGN_IN_WINDOW: PositiveInt = 15 * 60
    SIGN_IN_MAX_PER_ACCOUNT: PositiveInt = 5
    SIGN_IN_MAX_PER_CLIENT: PositiveInt = 20
    # How long a web page session lasts without activity, in seconds.
    WEB_SESSION_SECONDS: PositiveInt = 12 * 3600
    PAGE_SIZE: PositiveInt = 50
    MAX_PAGE_SIZE: PositiveInt = 200
    # Delivery guarantees (seconds). A message unacked for VISIBILITY_TIMEOUT is redelivered
    # by Redis; the reconciler re-enqueues submissions idle in queued/grading for STUCK_AFTER.
    VISIBILITY_TIMEOUT: PositiveInt = 300
    RESTORE_INTERVAL: PositiveInt = 30
    RECONCILE_INTERVAL: PositiveInt = 5
    STUCK_AFTER: PositiveInt = 120
    # A claimed grading's lease, renewed every third of it while the grading runs: once it
    # runs out the grading process is gone and the reconciler starts the grading again.
    GRADING_LEASE: int = Field(15, ge=3, description="At least 3: renewed every third of it.")
    # Seconds a grading may run: past the soft limit it ends failed; the hard limit kills it.
    GRADING_SOFT_LIMIT: PositiveInt = 60
    GRADING_HARD_LIMIT: PositiveInt = 90
    MAX_DELIVERIES: PositiveInt = 3
    # The worker commits to PostgreSQL without waiting for the WAL flush: all it writes is
    # re-derived if a crash loses it (the reconciler regrades anything left queued or
    # grading), and any later synchronous commit (a submit, an override) flushes it first.
    WORKER_ASYNC_COMMIT: bool = True
    # "web" or "worker" (set by the worker's entry point).
    PROCESS_ROLE: Literal["web", "worker"] = "web"
    # Rubrics instructors may create assignments from.
    RUBRICS_DIR: str | None = None
    # Test hook: when true, an answer containing FAULT_MARKER kills the worker process that
    # grades it (for the poison-message test). Never enable it in production.
    FAULT_INJECTION: bool = False
    FAULT_MARKER: str = "GRADER-FAULT-CRASH-WORKER"
    # Send the web pages' session cookie over HTTPS only (set it when serving over HTTPS).
    SESSION_COOKIE_SECURE: bool = False
    SECRET_KEY: str | None = Field(
        None, validation_alias=AliasChoices("GRADER_SECRET_KEY", "SECRET_KEY")
    )
    TESTING: bool = False
    # Course platforms' webhooks (grader.service.webhooks). Outbound retries follow the
    # Standard Webhooks schedule multiplied by WEBHOOK_RETRY_SCALE (tests compress it);
    # WEBHOOK_ALLOWED_HOSTS (comma-separated names, IPs or networks) lifts the https and
    # public-address rules for those hosts only (tests: 127.0.0.1,localhost).
    WEBHOOK_TIMEOUT: PositiveFloat = 10.0
    WEBHOOK_RETRY_SCALE: NonNegativeFloat = 1.0
    WEBHOOK_ALLOWED_HOSTS: str = ""
    WEBHOOK_SWEEP_INTERVAL: PositiveInt = 30
    WEBHOOK_RECEIPT_DAYS: PositiveInt = 4
    WEBHOOK_SECRET_GRACE: NonNegativeInt = 24 * 3600
    # LTI 1.3 (grader.service.lti): seconds of clock leeway on a launch's id_token, and how
    # long a rotated tool key stays in /lti/jwks. LTI_FRAME_SESSIONS lets an LMS show the
    # pages inside its iframe: the session cookie of a launched session is sent
    # SameSite=None; Secure (so only over https), and those pages may be framed by the
    # platform's origin alone.
    LTI_LEEWAY: NonNegativeInt = 60
    LTI_KEY_GRACE: NonNegativeInt = 2 * 24 * 3600
    LTI_FRAME_SESSIONS: bool = True
    # Regrade requests: a learner may ask within this many days of a grade's release.
    REGRADE_REQUEST_DAYS: NonNegativeFloat = 14.0
    # Mail (grader.service.mail): off unless SMTP_HOST is set. Notifications are always kept
    # in the app; with SMTP they are also mailed, by a worker task that retries up to
    # MAIL_MAX_TRIES times. PUBLIC_URL is the service's address as users reach it, for the
    # links in mails (e.g. https://grader.example.edu).
    SMTP_HOST: str | None = None
    SMTP_PORT: int = Field(25, ge=1, le=65535)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS: bool = False
    SMTP_TIMEOUT: PositiveFloat = 10.0
    MAIL_FROM: str = "grader@localhost"
    MAIL_MAX_TRIES: PositiveInt = 5
    MAIL_RETRY_SECONDS: NonNegativeFloat = 30.0
    MAIL_SWEEP_INTERVAL: PositiveInt = 60
    PUBLIC_URL: str = "http://127.0.0.1:5000"

    @model_validator(mode="after")
    def _limits_nest(self) -> Settings:
        soft, hard, visible = (
            self.GRADING_SOFT_LIMIT,
            self.GRADING_HARD_LIMIT,
            self.VISIBILITY_TIMEOUT,
        )
        if not soft < hard < visible:
            raise ValueError(
                "GRADING_SOFT_LIMIT < GRADING_HARD_LIMIT < VISIBILITY_TIMEOUT must hold "
                f"(got {soft}, {hard}, {visible})"
            )
        return self


#: Every setting's default, by name.
DEFAULTS: dict[str, Any] = {name: f.default for name, f in Settings.model_fields.items()}


class ConfigError(RuntimeError):
    """A setting is missing or malformed: raised at start-up, never mid-request."""


def _problem(error: Any, env: bool) -> str:
    name = str(error["loc"][0]) if error["loc"] else ""
    where = f"GRADER_{name}" if env and name else name or "settings"
    kind = str(error["type"])
    given = error.get("input")
    if kind.startswith("int_"):
        what = "must be an integer"
    elif kind.startswith("float_"):
        what = "must be a number"
    elif kind.startswith("bool"):
        what = "must be true or false"
    else:
        return (
            f"{where}: {error['msg']}" if name else str(error["msg"]).removeprefix("Value error, ")
        )
    return f"{where} {what}, got {given!r}"


def from_environment() -> dict[str, Any]:
    """The settings given in the environment (only those), typed."""
    try:
        return Settings().model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(e, True) for e in exc.errors())) from exc


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every declared setting checked and typed (other Flask keys kept)."""
    declared = {k: v for k, v in config.items() if k in Settings.model_fields}
    try:
        checked = Settings.model_validate(declared).model_dump()
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(e, False) for e in exc.errors())) from exc
    return config | {k: checked[k] for k in declared}


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
    return validate(config)


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
