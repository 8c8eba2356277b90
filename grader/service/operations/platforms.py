"""Course platforms: registering them, their event endpoints, and rotating their signing
secrets (the admin API and the CLI translate to these)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth import issue_token
from ..errors import APIError, not_found
from ..models import Platform, Role, User, get_row, utcnow
from ..webhooks.models import Delivery, PlatformSecret
from ..webhooks.signing import fingerprint, new_secret
from ..webhooks.urls import Allowlist, UnsafeURL, check_url
from .events import EVENT_TYPES

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class NewPlatform:
    platform: Platform
    secret: str
    token: str


def get_platform(session: Session, name: str) -> Platform:
    p = session.scalar(select(Platform).where(Platform.name == name))
    if p is None:
        raise not_found("platform")
    return p


def check_events_url(url: Any, allowlist: Allowlist) -> str:
    if not isinstance(url, str):
        raise APIError(422, "invalid_events_url", "'events_url' must be a URL", field="events_url")
    try:
        check_url(url, allowlist)
    except UnsafeURL as exc:
        raise APIError(422, "invalid_events_url", str(exc), field="events_url") from exc
    return url


def check_events(events: Any) -> list[str]:
    if (
        not isinstance(events, list)
        or not all(isinstance(e, str) for e in events)
        or not set(events) <= set(EVENT_TYPES)
    ):
        raise APIError(
            422,
            "invalid_events",
            f"'events' must be a list of event types from {', '.join(EVENT_TYPES)}",
            field="events",
        )
    return [e for e in EVENT_TYPES if e in events]


def create_platform(
    session: Session,
    name: Any,
    *,
    events_url: Any = None,
    events: Any = None,
    allowlist: Allowlist,
) -> NewPlatform:
    """A platform, its first secret, and a platform-role user with an API token (to read
    its submissions). The secret and token exist in plain form only in the return value."""
    if not isinstance(name, str) or not NAME.match(name):
        raise APIError(
            422,
            "invalid_name",
            "'name' must be lower-case letters, digits and dashes (at most 64)",
            field="name",
        )
    url = check_events_url(events_url, allowlist) if events_url is not None else None
    wanted = check_events(events) if events is not None else list(EVENT_TYPES)
    if session.scalar(select(Platform.id).where(Platform.name == name)) is not None:
        raise APIError(409, "exists", f"a platform {name!r} already exists", field="name")
    platform = Platform(name=name, events_url=url, events=wanted, events_enabled=True)
    session.add(platform)
    session.flush()
    secret = new_secret()
    session.add(PlatformSecret(platform_id=platform.id, secret=secret))
    user = User(name=f"platform {name}", role=Role.PLATFORM, platform_id=platform.id)
    session.add(user)
    session.flush()
    token = issue_token(session, user, f"platform {name}")
    return NewPlatform(platform, secret, token)


def rotate_secret(session: Session, platform: Platform, grace_seconds: int) -> PlatformSecret:
    """Add a new secret; the ones active now stay valid for grace_seconds more."""
    now = utcnow()
    until = now + timedelta(seconds=grace_seconds)
    for old in _active(session, platform):
        if old.expires_at is None or old.expires_at > until:
            old.expires_at = until
    secret = PlatformSecret(platform_id=platform.id, secret=new_secret(), created_at=now)
    session.add(secret)
    session.flush()
    return secret


def revoke_secret(session: Session, platform: Platform, secret_id: int) -> None:
    """Expire one secret now (a leaked one); the last active secret cannot be revoked."""
    row = get_row(session, PlatformSecret, secret_id)
    if row is None or row.platform_id != platform.id:
        raise not_found("secret")
    active = _active(session, platform)
    if row not in active:
        return
    if len(active) == 1:
        raise APIError(
            409,
            "last_secret",
            "this is the platform's only active secret: rotate first, then revoke it",
        )
    row.expires_at = utcnow()


def _active(session: Session, platform: Platform) -> list[PlatformSecret]:
    now = utcnow()
    return list(
        session.scalars(
            select(PlatformSecret)
            .where(
                PlatformSecret.platform_id == platform.id,
                or_(PlatformSecret.expires_at.is_(None), PlatformSecret.expires_at > now),
            )
            .order_by(PlatformSecret.id)
        )
    )


def platform_json(session: Session, p: Platform) -> dict[str, Any]:
    """A platform as admins see it: secrets by fingerprint only, never the secret."""
    now = utcnow()
    secrets = session.scalars(
        select(PlatformSecret).where(PlatformSecret.platform_id == p.id).order_by(PlatformSecret.id)
    ).all()
    user_id = session.scalar(
        select(User.id).where(User.platform_id == p.id, User.role == Role.PLATFORM).limit(1)
    )
    return {
        "name": p.name,
        "events_url": p.events_url,
        "events": list(p.events or []),
        "events_enabled": p.events_enabled,
        "disabled_reason": p.disabled_reason,
        "created_at": p.created_at.isoformat(),
        "user_id": user_id,
        "secrets": [
            {
                "id": s.id,
                "fingerprint": fingerprint(s.secret),
                "created_at": s.created_at.isoformat(),
                "expires_at": s.expires_at.isoformat() if s.expires_at else None,
                "active": s.expires_at is None or s.expires_at > now,
            }
            for s in secrets
        ],
    }


def delivery_json(d: Delivery, *, payload: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_type": d.event_type,
        "submission_id": d.submission_id,
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": d.created_at.isoformat(),
        "completed_at": d.completed_at.isoformat() if d.completed_at else None,
        "attempt_log": [
            {
                "number": a.number,
                "at": a.started_at.isoformat(),
                "url": a.url,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in d.attempt_log
        ],
    }
    if payload:
        out["payload"] = json.loads(d.body)
    return out
