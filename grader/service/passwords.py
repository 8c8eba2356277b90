"""Password hashing for web sign-in (scrypt, via Werkzeug)."""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def check_password(stored: str | None, password: str) -> bool:
    return bool(stored) and check_password_hash(stored or "", password)
