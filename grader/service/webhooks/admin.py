"""Admin API for course platforms: register, update, rotate secrets, watch and redeliver."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from sqlalchemy import func, select

from ..api.body import json_body
from ..api.params import page_size
from ..auth import require
from ..contracts import (
    ADMIN_ONLY,
    PlatformCreate,
    PlatformUpdate,
    Reply,
    SecretRotation,
    operation,
    parse,
    parse_query,
)
from ..contracts import responses as out
from ..contracts.queries import DeliveryQuery
from ..db import get_db
from ..errors import APIError, not_found
from ..models import Platform, Role, get_row
from ..operations.platforms import (
    check_events,
    check_events_url,
    create_platform,
    delivery_json,
    get_platform,
    platform_json,
    revoke_secret,
    rotate_secret,
)
from .delivery import redeliver
from .models import Delivery, DeliveryStatus
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
@operation(
    "listPlatforms",
    "List platforms",
    "platforms",
    {200: out.PlatformList},
    errors=(401, 403),
    description=ADMIN_ONLY,
)
@require(Role.ADMIN)
def index() -> dict[str, Any]:
    session = get_db().session
    rows = session.scalars(select(Platform).order_by(Platform.name)).all()
    return {"items": [platform_json(session, p) for p in rows]}


@bp.post("/platforms")
@operation(
    "createPlatform",
    "Register a platform",
    "platforms",
    {201: Reply(out.PlatformCreated, "Created; secret and token shown once", location=True)},
    errors=(401, 403, 409, 413, 415, 422),
    body=PlatformCreate,
    description=ADMIN_ONLY + " Returns the signing secret and an API token for the platform"
    " once; they are never shown again.",
)
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
@operation(
    "getPlatform",
    "Show a platform",
    "platforms",
    {200: out.Platform},
    errors=(401, 403, 404),
    description=ADMIN_ONLY,
)
@require(Role.ADMIN)
def show(name: str) -> dict[str, Any]:
    session = get_db().session
    return platform_json(session, get_platform(session, name))


@bp.patch("/platforms/<name>")
@operation(
    "updatePlatform",
    "Change the endpoint or events, or re-enable it",
    "platforms",
    {200: out.Platform},
    errors=(401, 403, 404, 413, 415, 422),
    body=PlatformUpdate,
    description=ADMIN_ONLY,
)
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
@operation(
    "rotateSecret",
    "Rotate the signing secret",
    "platforms",
    {201: Reply(out.PlatformSecretCreated, "The new secret, shown once")},
    errors=(401, 403, 404, 413, 415, 422),
    body=SecretRotation,
    body_required=False,
    description=ADMIN_ONLY,
)
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
@operation(
    "revokeSecret",
    "Revoke one secret now",
    "platforms",
    {200: out.Platform},
    errors=(401, 403, 404, 409),
    description=ADMIN_ONLY + " The last active secret cannot be revoked.",
)
@require(Role.ADMIN)
def revoke(name: str, secret_id: int) -> dict[str, Any]:
    """Expire one secret at once (for a leaked one)."""
    session = get_db().session
    platform = get_platform(session, name)
    revoke_secret(session, platform, secret_id)
    session.commit()
    return platform_json(session, platform)


@bp.get("/platforms/<name>/deliveries")
@operation(
    "listDeliveries",
    "Outbound events and their attempts, newest first",
    "platforms",
    {200: out.DeliveryPage},
    errors=(401, 403, 404, 422),
    query=DeliveryQuery,
    description=ADMIN_ONLY,
)
@require(Role.ADMIN)
def deliveries(name: str) -> dict[str, Any]:
    """The platform's outbound events, newest first, each with its attempt log."""
    session = get_db().session
    platform = get_platform(session, name)
    query = select(Delivery).where(Delivery.platform_id == platform.id)
    args = parse_query(DeliveryQuery, request.args)
    if args.status is not None:
        query = query.where(Delivery.status == DeliveryStatus(args.status))
    page, per_page = args.page, page_size(args)
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
@operation(
    "getDelivery",
    "Show a delivery with its payload",
    "platforms",
    {200: out.Delivery},
    errors=(401, 403, 404),
    description=ADMIN_ONLY,
)
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
@operation(
    "redeliver",
    "Send one event again (same webhook-id)",
    "platforms",
    {202: Reply(out.Delivery, "Queued")},
    errors=(401, 403, 404, 409),
    description=ADMIN_ONLY,
)
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
@operation(
    "redeliverFailed",
    "Send every failed event again",
    "platforms",
    {202: Reply(out.Redelivered, "Queued")},
    errors=(401, 403, 404, 409),
    description=ADMIN_ONLY,
)
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
