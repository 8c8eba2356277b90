"""Sign-in throttling: after too many failures, by account or by client, answer 429.

Each failed sign-in is recorded twice in the database, under the account (a hash of the
email as typed, so unknown and known emails are throttled alike and nothing tells them
apart) and under the client's address. While either key has more failures within
``SIGN_IN_WINDOW`` seconds than its limit, sign-in answers 429 with Retry-After, before any
password hash is computed (each costs a web worker ~0.3 s of scrypt). The database is the
store because it is what every web process shares, on the embedded default as on
PostgreSQL; a success clears the account's failures.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..models import SignInFailure, utcnow

__all__ = ["RESET", "clear_account", "record_failure", "retry_after"]


def _keys(email: str, client: str, scope: str = "") -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]
    return f"{scope}email:{digest}", f"{scope}client:{client[:64]}"


#: Password-reset requests are counted apart from sign-in failures (asking for a victim's
#: reset must not lock them out of signing in), with the same limits.
RESET = "reset-"


def retry_after(
    session: Session, email: str, client: str, config: Any, scope: str = ""
) -> int | None:
    """Seconds until this account and client may try again, or None when they may now."""
    window = int(config["SIGN_IN_WINDOW"])
    now = utcnow()
    since = now - timedelta(seconds=window)
    account, address = _keys(email, client, scope)
    wait = 0.0
    for key, limit in (
        (account, int(config["SIGN_IN_MAX_PER_ACCOUNT"])),
        (address, int(config["SIGN_IN_MAX_PER_CLIENT"])),
    ):
        count, oldest = session.execute(
            select(func.count(), func.min(SignInFailure.at)).where(
                SignInFailure.key == key, SignInFailure.at >= since
            )
        ).one()
        if count >= limit and oldest is not None:
            wait = max(wait, (oldest + timedelta(seconds=window) - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


def record_failure(session: Session, email: str, client: str, config: Any, scope: str = "") -> None:
    """Note a failed sign-in for the account and the client; forget those past the window."""
    now = utcnow()
    session.execute(
        delete(SignInFailure).where(
            SignInFailure.at < now - timedelta(seconds=int(config["SIGN_IN_WINDOW"]))
        )
    )
    session.add_all(SignInFailure(key=key, at=now) for key in _keys(email, client, scope))
    session.commit()


def clear_account(session: Session, email: str) -> None:
    """A successful sign-in forgets the account's failures (not the client's)."""
    account, _ = _keys(email, "")
    session.execute(delete(SignInFailure).where(SignInFailure.key == account))
    session.commit()
