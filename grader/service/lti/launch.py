"""LTI 1.3 launches: OIDC third-party login initiation, then the ``id_token`` check.

The login stores nothing: it puts a fresh state and nonce in a signed, short-lived cookie
(so unauthenticated logins cannot fill a table) and sends the browser to the platform's
authorization URL. The launch verifies the platform's signature (its JWKS, fetched outside
any database transaction), the issuer, audience and authorized party, the times (with
LTI_LEEWAY seconds of leeway), the state and nonce against the cookie, the deployment, and
the message type and version; then it records the nonce as used, committed with the launch
(or alone when what follows is refused), so the same ``id_token`` never launches twice.
Every refusal is an APIError saying which part failed.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import utcnow
from ..webhooks.urls import Allowlist, UnsafeURL, check_url, send
from .models import LtiDeployment, UsedNonce
from .registry import find_platform

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
STATE_SECONDS = 600
JWKS_MAX_BYTES = 256 * 1024
JWKS_CACHE_SECONDS = 300.0
# A kid the cached JWKS lacks triggers a fetch at most this often per platform.
JWKS_REFETCH_SECONDS = 10.0


@dataclass(frozen=True)
class Login:
    redirect_url: str
    state: str
    cookie: str


@dataclass(frozen=True)
class Launch:
    platform_id: int
    claims: dict[str, Any]

    def claim(self, name: str, default: Any = None) -> Any:
        return self.claims.get(CLAIM + name, default)


def _refuse(status: int, code: str, message: str, field: str | None = None) -> APIError:
    return APIError(status, code, message, field=field)


def login(
    session: Session,
    params: dict[str, str],
    *,
    redirect_uri: str,
    allowlist: Allowlist,
    signer: URLSafeTimedSerializer,
) -> Login:
    """Start a launch: check the initiation's parameters and say where to send the browser,
    with the signed cookie that carries the state and nonce."""
    iss = params.get("iss")
    login_hint = params.get("login_hint")
    target = params.get("target_link_uri")
    for field, value in (("iss", iss), ("login_hint", login_hint), ("target_link_uri", target)):
        if not value:
            raise _refuse(400, "missing_parameter", f"the login needs '{field}'", field)
    assert iss is not None and login_hint is not None
    platform = find_platform(session, iss, params.get("client_id") or None)
    if platform is None:
        raise _refuse(
            400, "unknown_platform", "no LTI platform with this issuer is registered", "iss"
        )
    deployment = params.get("lti_deployment_id")
    if deployment and not _deployment_known(session, platform.id, deployment):
        raise _refuse(
            403, "unknown_deployment", "this deployment is not registered", "lti_deployment_id"
        )
    try:
        check_url(platform.auth_url, allowlist, resolve=False)
    except UnsafeURL as exc:
        raise _refuse(502, "unsafe_platform_url", f"the platform's auth URL: {exc}") from exc
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    sep = "&" if "?" in platform.auth_url else "?"
    cookie = signer.dumps({"s": state, "n": nonce, "p": platform.id})
    return Login(platform.auth_url + sep + urlencode(query), state, cookie)


def _deployment_known(session: Session, platform_id: int, deployment_id: str) -> bool:
    return (
        session.scalar(
            select(LtiDeployment.id).where(
                LtiDeployment.platform_id == platform_id,
                LtiDeployment.deployment_id == deployment_id,
            )
        )
        is not None
    )


class _JwksCache:
    """Platforms' key sets, per URL, for JWKS_CACHE_SECONDS (a process-wide cache)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, url: str, allowlist: Allowlist, timeout: float, *, fresh: bool) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            cached = self._sets.get(url)
        if cached is not None:
            age = now - cached[0]
            if age < JWKS_CACHE_SECONDS and not (fresh and age > JWKS_REFETCH_SECONDS):
                return cached[1]
        document = fetch_jwks(url, allowlist, timeout)
        with self._lock:
            self._sets[url] = (now, document)
        return document

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()


JWKS_CACHE = _JwksCache()


def fetch_jwks(url: str, allowlist: Allowlist, timeout: float) -> dict[str, Any]:
    try:
        target = check_url(url, allowlist)
    except UnsafeURL as exc:
        raise _refuse(502, "platform_unreachable", f"the platform's JWKS URL: {exc}") from exc
    result = send(
        "GET", target, None, {"Accept": "application/json"}, timeout, read_limit=JWKS_MAX_BYTES
    )
    if result.status != 200:
        why = result.error or f"HTTP {result.status}"
        raise _refuse(502, "platform_unreachable", f"the platform's JWKS could not be read ({why})")
    try:
        document = json.loads(result.excerpt)
    except ValueError as exc:
        raise _refuse(502, "platform_unreachable", "the platform's JWKS is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _refuse(502, "platform_unreachable", "the platform's JWKS has no 'keys'")
    return document


def _platform_key(jwks_url: str, kid: str | None, allowlist: Allowlist, timeout: float) -> Any:
    for fresh in (False, True):
        document = JWKS_CACHE.get(jwks_url, allowlist, timeout, fresh=fresh)
        keys = [k for k in document["keys"] if isinstance(k, dict) and k.get("kty") == "RSA"]
        match = [k for k in keys if kid is None or k.get("kid") == kid]
        if kid is None and len(match) != 1:
            match = []
        if match:
            try:
                return jwt.PyJWK(match[0], algorithm="RS256").key
            except jwt.PyJWTError as exc:
                raise _refuse(
                    401, "invalid_token", f"the platform's key is unusable: {exc}"
                ) from exc
    raise _refuse(
        401, "invalid_token", "the id_token is signed by a key the platform does not publish"
    )


def verify(
    session: Session,
    id_token: str | None,
    state: str | None,
    cookie: str | None,
    *,
    leeway: float,
    allowlist: Allowlist,
    timeout: float,
    signer: URLSafeTimedSerializer,
) -> Launch:
    """The launch's claims once everything checks out, its nonce recorded as used (in the
    session, for the caller to commit); else APIError."""
    if not id_token:
        raise _refuse(400, "missing_parameter", "the launch needs an 'id_token'", "id_token")
    if not state:
        raise _refuse(400, "missing_parameter", "the launch needs its 'state'", "state")
    started = _started(cookie, signer)
    if not hmac.compare_digest(state.encode(), str(started.get("s", "")).encode()):
        raise _refuse(
            401,
            "state_mismatch",
            "this launch did not start in this browser (its state cookie is for another one)",
            "state",
        )
    try:
        header = jwt.get_unverified_header(id_token)
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _refuse(
            400, "invalid_token", f"the id_token is not a JWT: {exc}", "id_token"
        ) from exc
    if header.get("alg") != "RS256":
        raise _refuse(401, "invalid_token", "the id_token must be signed with RS256", "id_token")
    iss, aud = unverified.get("iss"), unverified.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if not isinstance(iss, str) or not audiences or not all(isinstance(a, str) for a in audiences):
        raise _refuse(401, "invalid_token", "the id_token has no issuer or audience", "id_token")
    platform = None
    azp = unverified.get("azp")
    for candidate in ([azp] if isinstance(azp, str) else []) + audiences:
        platform = find_platform(session, iss, candidate)
        if platform is not None:
            break
    if platform is None or platform.id != started.get("p"):
        raise _refuse(
            401,
            "unknown_platform",
            "no registered platform has this issuer and audience (or the login was for another)",
            "id_token",
        )
    platform_id, issuer, client_id = platform.id, platform.issuer, platform.client_id
    jwks_url = platform.jwks_url
    session.rollback()  # nothing written: no transaction stays open while the JWKS is fetched
    key = _platform_key(jwks_url, header.get("kid"), allowlist, timeout)
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=client_id,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud", "nonce", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise _refuse(401, "invalid_token", f"the id_token was refused: {exc}", "id_token") from exc
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise _refuse(
            401,
            "invalid_token",
            "several audiences but 'azp' is not grader's client id",
            "id_token",
        )
    if "azp" in claims and claims["azp"] != client_id:
        raise _refuse(401, "invalid_token", "'azp' is not grader's client id", "id_token")
    if not hmac.compare_digest(str(claims["nonce"]).encode(), str(started.get("n", "")).encode()):
        raise _refuse(
            401,
            "replayed_launch",
            "the id_token's nonce is not the one this login sent",
            "id_token",
        )
    launch = Launch(platform_id, claims)
    if launch.claim("version") != "1.3.0":
        raise _refuse(
            400, "unsupported_launch", "only LTI 1.3.0 launches are supported", "id_token"
        )
    if launch.claim("message_type") != RESOURCE_LINK_REQUEST:
        raise _refuse(
            400,
            "unsupported_launch",
            f"grader takes {RESOURCE_LINK_REQUEST} launches only "
            f"(this one is {launch.claim('message_type')!r})",
            "id_token",
        )
    deployment = launch.claim("deployment_id")
    if not isinstance(deployment, str) or not _deployment_known(session, platform_id, deployment):
        raise _refuse(403, "unknown_deployment", "this deployment is not registered", "id_token")
    link = launch.claim("resource_link")
    if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
        raise _refuse(400, "invalid_token", "the launch has no resource link id", "id_token")
    _use_nonce(session, platform_id, str(claims["nonce"])[:255], float(claims["exp"]) + leeway)
    return launch


def _started(cookie: str | None, signer: URLSafeTimedSerializer) -> dict[str, Any]:
    """The state, nonce and platform the login put in its signed cookie."""
    if not cookie:
        raise _refuse(
            401,
            "state_mismatch",
            "this launch did not start in this browser (its state cookie is missing)",
            "state",
        )
    try:
        started = signer.loads(cookie, max_age=STATE_SECONDS)
    except SignatureExpired as exc:
        raise _refuse(
            401, "state_mismatch", "the login took too long; launch again", "state"
        ) from exc
    except BadSignature as exc:
        raise _refuse(401, "state_mismatch", "the state cookie is not grader's", "state") from exc
    if not isinstance(started, dict):
        raise _refuse(401, "state_mismatch", "the state cookie is not grader's", "state")
    return started


def _use_nonce(session: Session, platform_id: int, nonce: str, exp: float) -> None:
    """Record the nonce as used (flushed: a second launch with it meets the unique key).
    The caller commits it with the launch, or with :func:`keep_nonce` if it refuses what
    follows, so a refused launch cannot be replayed once the refusal no longer holds."""
    # A plain INSERT, the transaction's first write: SQLite's driver begins the transaction
    # there, so the savepoints that follow (accounts, links) stay inside it. (A SAVEPOINT
    # that opened the transaction would commit it on release.)
    try:
        session.add(UsedNonce(platform_id=platform_id, nonce=nonce, expires_at=_at(exp)))
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise _refuse(
            401, "replayed_launch", "this id_token was already used to launch", "id_token"
        ) from exc


# A used nonce is kept until its token expired; a token that claims a later expiry than
# this is kept this long (its exp is the platform's to choose; keeping it for years is not).
MAX_NONCE_DAYS = 2


def _at(exp: float) -> datetime:
    latest = utcnow() + timedelta(days=MAX_NONCE_DAYS)
    try:
        return min(datetime.fromtimestamp(exp, UTC), latest)
    except (OverflowError, OSError, ValueError):
        return latest


def keep_nonce(session: Session, launch: Launch, leeway: float) -> None:
    """Commit the launch's nonce as used after the rest was rolled back (a refusal)."""
    nonce = str(launch.claims["nonce"])[:255]
    try:
        session.add(
            UsedNonce(
                platform_id=launch.platform_id,
                nonce=nonce,
                expires_at=_at(float(launch.claims["exp"]) + leeway),
            )
        )
        session.commit()
    except IntegrityError:
        session.rollback()  # already committed with the launch


def forget_nonces(session: Session) -> int:
    """Delete used nonces whose tokens have expired (a replay fails on exp by then)."""
    result = session.execute(
        delete(UsedNonce)
        .where(UsedNonce.expires_at < utcnow() - timedelta(seconds=STATE_SECONDS))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
