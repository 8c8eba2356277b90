"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import text

from ..contracts import Reply, operation
from ..contracts import responses as out
from ..db import get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@operation("healthz", "Liveness", "health", {200: out.Health}, security="public")
def healthz() -> dict[str, Any]:
    """The process is up and answering."""
    return {"status": "ok"}


@bp.get("/readyz")
@operation(
    "readyz",
    "Readiness: database and broker reachable",
    "health",
    {200: out.Ready, 503: Reply(out.Ready, "A dependency is unreachable (named in checks).")},
    security="public",
)
def readyz() -> tuple[dict[str, Any], int]:
    """The database and the broker are reachable; 503 naming what is not."""
    checks: dict[str, str] = {}
    try:
        get_db().session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        celery = current_app.extensions["celery"]
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
