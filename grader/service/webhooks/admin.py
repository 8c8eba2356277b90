"""Admin API for course platforms: register, update, rotate secrets, watch and redeliver."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from sqlalchemy import func, select

from ..api.body import json_body
from ..api.params import int_arg
from ..auth import require
from ..contracts import PlatformCreate, PlatformUpdate, SecretRotation, parse
from ..db import get_db
from ..errors import APIError, not_found
from ..models import Platform, Role, get_row
from .delivery import redeliver
from .models import Delivery, DeliveryStatus
from .platforms import (
    check_events,
    check_events_url,
    create_platform,
    delivery_json,
    get_platform,
    platform_json,
    revoke_secret,
    rotate_secret,
)
from .tasks import enqueue_delivery
from .urls import Allowlist

bp = Blueprint("webhooks_admin", __name__)


def _allowlist() -> Allowlist:
    return Allowlist.parse(current_app.config.get("WEBHOOK_ALLOWED_HOSTS"))


def _optional_json() -> dict[str, Any]:
    """A JSON object body, or {} when the request has no body at all."""
    if not request.content_length and request.mimetype != "application/json":
        return {}
    return json_body()


@bp.get("/platforms")
@require(Role.ADMIN)
def index() -> dict[str, Any]:
    session = get_db().session
    rows = session.scalars(select(Platform).order_by(Platform.name)).all()
    return {"items": [platform_json(session, p) for p in rows]}


@bp.post("/platforms")
@require(Role.ADMIN)
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Register a platform. The signing secret and the API token are in this answer only."""
    session = get_db().session
    req = parse(PlatformCreate, json_body())
    new = create_platform(
        session,
        req.name,
        events_url=req.events_url,
        events=req.events,
        allowlist=_allowlist(),
    )
    session.commit()
    body = platform_json(session, new.platform)
    body["secret"] = new.secret
    body["token"] = new.token
    return body, 201, {"Location": f"/api/v1/platforms/{new.platform.name}"}


@bp.get("/platforms/<name>")
@require(Role.ADMIN)
def show(name: str) -> dict[str, Any]:
    session = get_db().session
    return platform_json(session, get_platform(session, name))


@bp.patch("/platforms/<name>")
@require(Role.ADMIN)
def update(name: str) -> dict[str, Any]:
    """Change the endpoint, the events it wants, or re-enable it after a 410."""
    session = get_db().session
    platform = get_platform(session, name)
    req = parse(PlatformUpdate, json_body())
    given = req.model_fields_set
    if "events_url" in given:
        url = req.events_url
        platform.events_url = None if url is None else check_events_url(url, _allowlist())
    if "events" in given:
        platform.events = check_events(req.events)
    if "events_enabled" in given:
        platform.events_enabled = req.events_enabled
        if platform.events_enabled:
            platform.disabled_reason = None
    session.commit()
    return platform_json(session, platform)


@bp.post("/platforms/<name>/secrets")
@require(Role.ADMIN)
def rotate(name: str) -> tuple[dict[str, Any], int]:
    """Issue a new secret (shown once); the current ones expire after grace_seconds."""
    session = get_db().session
    platform = get_platform(session, name)
    req = parse(SecretRotation, _optional_json())
    grace = req.grace_seconds
    if grace is None:
        grace = int(current_app.config["WEBHOOK_SECRET_GRACE"])
    secret = rotate_secret(session, platform, grace)
    session.commit()
    body = platform_json(session, platform)
    body["secret"] = secret.secret
    body["secret_id"] = secret.id
    return body, 201


@bp.delete("/platforms/<name>/secrets/<int:secret_id>")
@require(Role.ADMIN)
def revoke(name: str, secret_id: int) -> dict[str, Any]:
    """Expire one secret at once (for a leaked one)."""
    session = get_db().session
    platform = get_platform(session, name)
    revoke_secret(session, platform, secret_id)
    session.commit()
    return platform_json(session, platform)


@bp.get("/platforms/<name>/deliveries")
@require(Role.ADMIN)
def deliveries(name: str) -> dict[str, Any]:
    """The platform's outbound events, newest first, each with its attempt log."""
    session = get_db().session
    platform = get_platform(session, name)
    query = select(Delivery).where(Delivery.platform_id == platform.id)
    status = request.args.get("status")
    if status is not None:
        if status not in {s.value for s in DeliveryStatus}:
            raise APIError(
                422,
                "invalid_parameter",
                "status must be pending, succeeded or failed",
                field="status",
            )
        query = query.where(Delivery.status == DeliveryStatus(status))
    page = int_arg("page", 1, 1, 100_000)
    per_page = int_arg(
        "per_page", current_app.config["PAGE_SIZE"], 1, current_app.config["MAX_PAGE_SIZE"]
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Delivery.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return {
        "items": [delivery_json(d) for d in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": (total + per_page - 1) // per_page,
    }


def _delivery(platform: Platform, delivery_id: int) -> Delivery:
    d = get_row(get_db().session, Delivery, delivery_id)
    if d is None or d.platform_id != platform.id:
        raise not_found("delivery")
    return d


@bp.get("/platforms/<name>/deliveries/<int:delivery_id>")
@require(Role.ADMIN)
def show_delivery(name: str, delivery_id: int) -> dict[str, Any]:
    session = get_db().session
    return delivery_json(_delivery(get_platform(session, name), delivery_id), payload=True)


def _require_enabled(platform: Platform) -> None:
    if not platform.events_enabled or not platform.events_url:
        raise APIError(
            409,
            "endpoint_disabled",
            "the platform's endpoint is disabled or unset: PATCH events_enabled/events_url first",
        )


@bp.post("/platforms/<name>/deliveries/<int:delivery_id>/redeliver")
@require(Role.ADMIN)
def redeliver_one(name: str, delivery_id: int) -> tuple[dict[str, Any], int]:
    """Send one event again now (same webhook-id), whatever its status."""
    session = get_db().session
    platform = get_platform(session, name)
    d = _delivery(platform, delivery_id)
    _require_enabled(platform)
    redeliver(d)
    session.commit()
    enqueue_delivery(d.id)
    return delivery_json(d), 202


@bp.post("/platforms/<name>/deliveries/redeliver-failed")
@require(Role.ADMIN)
def redeliver_failed(name: str) -> tuple[dict[str, Any], int]:
    """Send every failed event of this platform again."""
    session = get_db().session
    platform = get_platform(session, name)
    _require_enabled(platform)
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.platform_id == platform.id, Delivery.status == DeliveryStatus.FAILED)
        .order_by(Delivery.id)
    ).all()
    for d in rows:
        redeliver(d)
    session.commit()
    ids = [d.id for d in rows]
    for delivery_id in ids:
        enqueue_delivery(delivery_id)
    return {"count": len(ids), "ids": ids}, 202
