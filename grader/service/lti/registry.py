"""Registering LMS platforms and their deployments (the CLI and the admin API translate
to these). Every URL passes the same check as webhook endpoints: https, and no private
address unless it is in WEBHOOK_ALLOWED_HOSTS."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import APIError, not_found
from ..models import get_row
from ..webhooks.urls import Allowlist, UnsafeURL, check_url
from .models import LtiDeployment, LtiPlatform

URL_FIELDS = ("auth_url", "token_url", "jwks_url")


def _text(value: Any, field: str, limit: int = 255) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise APIError(
            422, "invalid_field", f"'{field}' must be text of 1 to {limit} characters", field=field
        )
    if any(ord(c) < 32 for c in value):
        raise APIError(422, "invalid_field", f"'{field}' has control characters", field=field)
    return value.strip()


def _url(value: Any, field: str, allowlist: Allowlist) -> str:
    url = _text(value, field, 2048)
    try:
        check_url(url, allowlist, resolve=False)
    except UnsafeURL as exc:
        raise APIError(422, "invalid_url", f"'{field}': {exc}", field=field) from exc
    return url


def find_platform(session: Session, issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The registration for this issuer and client id (or the issuer's only one)."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id is not None:
        return session.scalar(query.where(LtiPlatform.client_id == client_id))
    rows = list(session.scalars(query.limit(2)))
    return rows[0] if len(rows) == 1 else None


def get_platform(session: Session, platform_id: int) -> LtiPlatform:
    p = get_row(session, LtiPlatform, platform_id)
    if p is None:
        raise not_found("LTI platform")
    return p


def add_platform(
    session: Session,
    *,
    issuer: Any,
    client_id: Any,
    deployment_ids: Any,
    auth_url: Any,
    token_url: Any,
    jwks_url: Any,
    name: Any = None,
    token_audience: Any = None,
    trust_instructors: Any = None,
    allowlist: Allowlist,
) -> tuple[LtiPlatform, bool]:
    """Register a platform, or add deployments to the one with this issuer and client id
    (its URLs are then updated). Returns (platform, created)."""
    issuer = _url(issuer, "issuer", allowlist)
    client_id = _text(client_id, "client_id")
    if not isinstance(deployment_ids, list) or not deployment_ids:
        raise APIError(
            422,
            "invalid_field",
            "'deployment_ids' must list at least one deployment id",
            field="deployment_ids",
        )
    deployments = [_text(d, "deployment_ids") for d in deployment_ids]
    urls = {
        f: _url(v, f, allowlist)
        for f, v in zip(URL_FIELDS, (auth_url, token_url, jwks_url), strict=True)
    }
    audience = None if token_audience in (None, "") else _text(token_audience, "token_audience")
    label = _text(name, "name", 200) if name not in (None, "") else issuer
    platform = session.scalar(
        select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id)
    )
    created = platform is None
    if platform is None:
        platform = LtiPlatform(issuer=issuer, client_id=client_id, name=label, **urls)
        session.add(platform)
    else:
        for field, value in urls.items():
            setattr(platform, field, value)
        if name not in (None, ""):
            platform.name = label
    platform.token_audience = audience
    if trust_instructors is not None:
        if not isinstance(trust_instructors, bool):
            raise APIError(
                422,
                "invalid_field",
                "'trust_instructors' must be true or false",
                field="trust_instructors",
            )
        platform.trust_instructors = trust_instructors
    elif created:
        platform.trust_instructors = False
    session.flush()
    known = set(
        session.scalars(
            select(LtiDeployment.deployment_id).where(LtiDeployment.platform_id == platform.id)
        )
    )
    for deployment in dict.fromkeys(deployments):
        if deployment not in known:
            session.add(LtiDeployment(platform_id=platform.id, deployment_id=deployment))
    session.flush()
    session.refresh(platform)
    return platform, created


def remove_platform(session: Session, platform: LtiPlatform) -> None:
    """Only a platform that never launched can go (its links and accounts hold history)."""
    from .models import LtiAccount, LtiLink

    used = session.scalar(
        select(LtiLink.id).where(LtiLink.platform_id == platform.id).limit(1)
    ) or session.scalar(select(LtiAccount.id).where(LtiAccount.platform_id == platform.id).limit(1))
    if used is not None:
        raise APIError(409, "platform_in_use", "this platform has launched grader; it stays")
    for d in platform.deployments:
        session.delete(d)
    session.flush()
    session.delete(platform)


def platform_json(platform: LtiPlatform) -> dict[str, Any]:
    return {
        "id": platform.id,
        "name": platform.name,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "deployment_ids": [d.deployment_id for d in platform.deployments],
        "auth_url": platform.auth_url,
        "token_url": platform.token_url,
        "jwks_url": platform.jwks_url,
        "token_audience": platform.token_audience,
        "trust_instructors": platform.trust_instructors,
        "created_at": platform.created_at.isoformat(),
    }
