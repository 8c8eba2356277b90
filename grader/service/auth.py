"""Who is calling: bearer API tokens (stored hashed), roles and object-level checks."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import get_db
from .errors import APIError, forbidden, not_found
from .models import ApiToken, Role, Submission, User, get_row, utcnow

F = TypeVar("F", bound=Callable[..., Any])
TOKEN_PREFIX = "grd_"
STAFF = (Role.INSTRUCTOR, Role.ADMIN)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is enough: there is nothing to guess.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str) -> str:
    """Create an API token for user; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id, name=name, prefix=token[:10], token_hash=hash_token(token))
    )
    return token


def _unauthorized(message: str) -> APIError:
    return APIError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def current_user() -> User:
    """The authenticated caller; 401 when the request carries no valid token."""
    user: User | None = g.get("user")
    if user is not None:
        return user
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send 'Authorization: Bearer <token>'")
    session = get_db().session
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip())))
    if row is None or row.revoked_at is not None or not row.user.active:
        raise _unauthorized("the token is unknown or revoked")
    now = utcnow()
    # Record use at most once a minute: a write per request would cost more than the request.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        session.commit()
    g.user = row.user
    return row.user


def require(*roles: Role) -> Callable[[F], F]:
    """Allow only callers with one of roles (any authenticated caller when none is given)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if roles and user.role not in roles:
                raise forbidden(f"this needs the {' or '.join(r.value for r in roles)} role")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def is_staff(user: User) -> bool:
    return user.role in STAFF


def load_submission(session: Session, submission_id: int, user: User) -> Submission:
    """A submission the user may see: learners their own, platforms theirs, staff all.

    Others get 404, not 403, so ids of other people's submissions reveal nothing.
    """
    # Ids are 32-bit: a larger one cannot exist (and the database would refuse to bind it).
    sub = get_row(session, Submission, submission_id)
    if sub is None:
        raise not_found("submission")
    if is_staff(user):
        return sub
    if user.role == Role.LEARNER and sub.learner_id == user.id:
        return sub
    if (
        user.role == Role.PLATFORM
        and sub.platform_id is not None
        and sub.platform_id == (user.platform_id)
    ):
        return sub
    raise not_found("submission")
