"""From the LMS's iframe to a tab of its own: a signed, single-use link that signs an
instructor in at the top level. Browsers keep a cookie set inside a third-party iframe
apart from the site's own (or drop it), so the session of the launch does not reach a
new tab; the hand-off link carries who it is for, the session generation it was made in,
the link and a one-use id, and works for HANDOFF_SECONDS."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import Role, User, utcnow
from .models import LtiLink, UsedNonce

HANDOFF_SECONDS = 300
TARGETS = ("dashboard", "review")


@dataclass(frozen=True)
class Handoff:
    user: User
    link: LtiLink
    target: str


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="grader.lti.handoff")


def make(secret_key: str, user: User, link: LtiLink, target: str) -> str:
    assert target in TARGETS
    return _serializer(secret_key).dumps(
        {
            "u": user.id,
            "g": user.session_generation,
            "l": link.id,
            "t": target,
            "j": secrets.token_urlsafe(16),
        }
    )


def redeem(session: Session, secret_key: str, token: str) -> Handoff:
    """Who the link signs in and where it goes; used once (committed here)."""
    refused = APIError(
        403, "handoff_refused", "this link has expired or was used; open the activity again"
    )
    try:
        data = _serializer(secret_key).loads(token, max_age=HANDOFF_SECONDS)
    except BadSignature as exc:
        raise refused from exc
    if not isinstance(data, dict) or data.get("t") not in TARGETS:
        raise refused
    user = session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    link = session.get(LtiLink, data.get("l")) if isinstance(data.get("l"), int) else None
    if (
        user is None
        or link is None
        or not user.active
        or user.role not in (Role.INSTRUCTOR, Role.ADMIN)
        or user.session_generation != data.get("g")
    ):
        raise refused
    try:
        session.add(
            UsedNonce(
                platform_id=link.platform_id,
                nonce=f"handoff:{data.get('j')}"[:255],
                expires_at=utcnow() + timedelta(seconds=HANDOFF_SECONDS * 2),
            )
        )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise refused from exc
    return Handoff(user, link, str(data["t"]))
