"""grader's own RSA keys: the one that signs (client assertions to platforms' token
endpoints), rotation, and the JWKS published at /lti/jwks for platforms to verify with.

The first key is made on first use. A rotation makes a new signing key and retires the
old one, which stays published for LTI_KEY_GRACE seconds so assertions signed just
before the rotation still verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import utcnow
from .models import ToolKey

KEY_BITS = 2048


def _new_key() -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ToolKey(kid=hashlib.sha256(public_der).hexdigest()[:32], private_pem=pem)


def signing_key(session: Session) -> ToolKey:
    """The key that signs now (made, and flushed, if there is none)."""
    key = session.scalar(
        select(ToolKey).where(ToolKey.retired_at.is_(None)).order_by(ToolKey.id.desc()).limit(1)
    )
    if key is None:
        key = _new_key()
        session.add(key)
        session.flush()
    return key


def rotate(session: Session) -> ToolKey:
    """A new signing key; the current ones are retired (still published for the grace)."""
    now = utcnow()
    for old in session.scalars(select(ToolKey).where(ToolKey.retired_at.is_(None))):
        old.retired_at = now
    key = _new_key()
    session.add(key)
    session.flush()
    return key


def published(session: Session, grace_seconds: float, now: datetime | None = None) -> list[ToolKey]:
    now = now or utcnow()
    cutoff = now - timedelta(seconds=grace_seconds)
    return list(
        session.scalars(
            select(ToolKey)
            .where(or_(ToolKey.retired_at.is_(None), ToolKey.retired_at > cutoff))
            .order_by(ToolKey.id.desc())
        )
    )


def public_jwk(key: ToolKey) -> dict[str, Any]:
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    # "use" says what the key is for; RFC 7517 asks not to send key_ops beside it.
    jwk.pop("key_ops", None)
    return jwk | {"kid": key.kid, "alg": "RS256", "use": "sig"}


def jwks(session: Session, grace_seconds: float) -> dict[str, Any]:
    """The JWKS document: the signing key and the recently retired ones (public parts)."""
    keys = published(session, grace_seconds)
    if not keys:
        keys = [signing_key(session)]
    return {"keys": [public_jwk(k) for k in keys]}


Signer = Callable[[dict[str, Any]], str]


def signer(session: Session) -> Signer:
    """Signs compact RS256 JWTs with the current key (kid in the header), read now, so the
    signing needs no database session later (no transaction stays open across HTTP)."""
    key = signing_key(session)
    pem, kid = key.private_pem, key.kid

    def sign(claims: dict[str, Any]) -> str:
        return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid})

    return sign
