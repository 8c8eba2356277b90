"""Who is signed in to the web pages, and the CSRF token their forms carry.

The pages use Flask's signed session cookie (HttpOnly, SameSite=Lax); the JSON API never
looks at it (it reads only bearer tokens, and this module keeps its user in ``g.web_user``,
not the API's ``g.user``). A session remembers a fingerprint of the password hash and the
user's session generation, so changing the password, deactivating the account or signing
out ends every copy of the session, wherever the cookie was copied to.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for
from sqlalchemy import func, select

from ..db import get_db
from ..models import Role, User
from ..passwords import check_password, hash_password

F = TypeVar("F", bound=Callable[..., Any])
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SIGN_IN_ROLES = (Role.LEARNER, Role.INSTRUCTOR, Role.ADMIN)
_DUMMY_HASH: list[str] = []


class CSRFError(Exception):
    """A state-changing request without this session's token."""


def _fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def csrf_token() -> str:
    """This session's token, created on first use (also before signing in: login forms)."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse a POST without the session's token, or sent from another site's page."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise CSRFError("the form was sent from another site")
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CSRFError("the form has expired or did not come from this site")


def load_user() -> User | None:
    """The signed-in user for this request (None if signed out or the session is stale)."""
    if "web_user" in g:
        user: User | None = g.web_user
        return user
    user = None
    uid = session.get("uid")
    if isinstance(uid, int):
        row = get_db().session.get(User, uid)
        max_age = current_app.config["WEB_SESSION_SECONDS"]
        fresh = time.time() - float(session.get("at", 0)) < max_age
        if (
            row is not None
            and row.active
            and row.role in SIGN_IN_ROLES
            and fresh
            and session.get("gen") == row.session_generation
            and hmac.compare_digest(str(session.get("fp", "")).encode(), _fingerprint(row).encode())
        ):
            user = row
        else:
            session.clear()
    g.web_user = user
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password. Unknown emails cost the same time as
    wrong passwords, so timing does not tell which emails exist."""
    user = get_db().session.scalar(
        select(User).where(func.lower(User.email) == email.strip().lower())
    )
    if user is None or not user.password_hash:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
        check_password(_DUMMY_HASH[0], password)
        return None
    if not check_password(user.password_hash, password):
        return None
    if not user.active or user.role not in SIGN_IN_ROLES:
        return None
    return user


def sign_in(user: User) -> None:
    """Start a fresh session (a new CSRF token too: nothing carries over from before)."""
    session.clear()
    session["uid"] = user.id
    session["fp"] = _fingerprint(user)
    session["gen"] = user.session_generation
    session["at"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)
    g.web_user = user


def sign_out() -> None:
    """End this session and every copy of it: the user's session generation moves on."""
    user = load_user()
    if user is not None:
        db = get_db().session
        user.session_generation = (user.session_generation or 0) + 1
        db.commit()
    session.clear()
    g.web_user = None


def safe_next(target: str | None) -> str | None:
    """A local path to return to after signing in; anything else (another host,
    ``//host``, backslashes, control characters) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def signed_in(*roles: Role, json: bool = False) -> Callable[[F], F]:
    """Require a signed-in user (with one of roles, if given).

    Signed out: pages redirect to the sign-in page, JSON routes answer 401. Wrong role: 403.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = load_user()
            if user is None:
                if json:
                    response = jsonify({"error": "sign in first"})
                    response.status_code = 401
                    return response
                nxt = request.full_path if request.method == "GET" else None
                nxt = nxt[:-1] if nxt and nxt.endswith("?") else nxt
                return redirect(url_for("web.login", next=nxt))
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def current_user() -> User:
    """The signed-in user inside a view guarded by :func:`signed_in`."""
    user = load_user()
    assert user is not None, "use @signed_in"
    return user
