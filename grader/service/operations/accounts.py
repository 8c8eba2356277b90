"""Accounts: admins and instructors create them (one, or a CSV roster), and each new user
sets a password from a one-time link; "forgot password" sends a reset link. A link's token is
random, kept only as its hash, works once and expires; using it ends every session of the
account. API tokens stay as they are (grader token create)."""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..auth import hash_token
from ..errors import APIError
from ..models import AccountLink, Notification, Role, User, utcnow
from ..passwords import hash_password

#: How long links last: a welcome link gives time to find the mail; a reset link is short.
WELCOME_HOURS = 7 * 24
RESET_HOURS = 2
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_ROSTER_ROWS = 5000
#: What an email address looks like here (the contract's pattern too).
EMAIL_PATTERN = (
    r"^[^@\x00-\x20\x7f-\x9f<>,;\"'()\[\]\\]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
)
_EMAIL = re.compile(EMAIL_PATTERN)
#: Who may create whom: instructors add learners; admins anyone but platforms (those come
#: with their webhook secrets, grader platform add).
CREATABLE = {
    Role.ADMIN: (Role.LEARNER, Role.INSTRUCTOR, Role.ADMIN),
    Role.INSTRUCTOR: (Role.LEARNER,),
}


@dataclass(frozen=True)
class NewAccount:
    user: User
    #: The one-time link's token (shown to whoever created the account when mail is off).
    token: str


def _check(name: str, email: str, role: str, actor: User, where: str = "") -> tuple[str, str, Role]:
    name, email = " ".join(name.split()), email.strip()
    prefix = f"{where}: " if where else ""
    if not name or len(name) > 200:
        raise APIError(
            422, "invalid_name", f"{prefix}give a name of at most 200 characters", field="name"
        )
    if len(email) > 320 or not _EMAIL.match(email):
        raise APIError(
            422, "invalid_email", f"{prefix}{email!r} is not an email address", field="email"
        )
    try:
        wanted = Role(role)
    except ValueError:
        wanted = None
    allowed = CREATABLE.get(actor.role, ())
    if wanted is None or wanted == Role.PLATFORM:
        names = ", ".join(r.value for r in allowed)
        raise APIError(422, "invalid_role", f"{prefix}role must be one of {names}", field="role")
    if wanted not in allowed:
        raise APIError(
            403, "forbidden", f"{prefix}a {actor.role.value} cannot create {wanted.value} accounts"
        )
    return name, email, wanted


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(
    session: Session, actor: User, name: str, email: str, role: str = "learner"
) -> NewAccount:
    """A new account without a password, and its welcome link (409 if the email is taken)."""
    name, email, wanted = _check(name, email, role, actor)
    if find_by_email(session, email) is not None:
        raise APIError(409, "email_taken", f"an account with {email} exists already", field="email")
    user = User(name=name, email=email, role=wanted)
    session.add(user)
    session.flush()
    return NewAccount(user, issue_link(session, user, "welcome", actor))


@dataclass(frozen=True)
class RosterResult:
    created: list[NewAccount]
    #: Rows whose email has an account already (a roster can be uploaded again).
    existing: list[str]


def import_roster(
    session: Session, actor: User, text: str, default_role: str = "learner"
) -> RosterResult:
    """Accounts from a CSV roster with a header row: ``name`` and ``email`` columns, and an
    optional ``role``. All or nothing: any bad row refuses the whole file, naming its line."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise APIError(422, "empty_roster", "the roster is empty", field="roster")
    header = [h.strip().lower() for h in rows[0]]
    if "name" not in header or "email" not in header:
        raise APIError(
            422,
            "invalid_roster",
            "the first line must name the columns: name,email (and optionally role)",
            field="roster",
        )
    if len(rows) - 1 > MAX_ROSTER_ROWS:
        raise APIError(
            422, "roster_too_long", f"a roster has at most {MAX_ROSTER_ROWS} rows", field="roster"
        )
    col = {h: i for i, h in enumerate(header)}
    seen: set[str] = set()
    wanted: list[tuple[str, str, Role]] = []
    existing: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        cells = row + [""] * (len(header) - len(row))
        role = cells[col["role"]].strip().lower() if "role" in col else ""
        try:
            name, email, r = _check(
                cells[col["name"]], cells[col["email"]], role or default_role, actor, f"line {line}"
            )
        except APIError as exc:
            raise APIError(exc.status, exc.code, exc.message, field="roster") from None
        key = email.lower()
        if key in seen:
            raise APIError(
                422, "duplicate_email", f"line {line}: {email} appears twice", field="roster"
            )
        seen.add(key)
        if find_by_email(session, email) is not None:
            existing.append(email)
        else:
            wanted.append((name, email, r))
    created = []
    for name, email, r in wanted:
        user = User(name=name, email=email, role=r)
        session.add(user)
        session.flush()
        created.append(NewAccount(user, issue_link(session, user, "welcome", actor)))
    return RosterResult(created, existing)


def issue_link(session: Session, user: User, purpose: str, actor: User | None = None) -> str:
    """A new one-time link for user (earlier unused ones of the same purpose stop working);
    returns its token, which is never stored."""
    assert purpose in ("welcome", "reset")
    now = utcnow()
    session.execute(
        update(AccountLink)
        .where(
            AccountLink.user_id == user.id,
            AccountLink.purpose == purpose,
            AccountLink.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    hours = WELCOME_HOURS if purpose == "welcome" else RESET_HOURS
    session.add(
        AccountLink(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=now + timedelta(hours=hours),
            created_by_id=actor.id if actor else None,
        )
    )
    session.flush()
    return token


def link_for(session: Session, token: str) -> AccountLink | None:
    """The link a token names if it still works (unused, unexpired, active account)."""
    if not token or len(token) > 100:
        return None
    link = session.scalar(select(AccountLink).where(AccountLink.token_hash == hash_token(token)))
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        return None
    user = session.get(User, link.user_id)
    return link if user is not None and user.active else None


def check_password_rules(password: str, confirm: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise APIError(
            422, "password_too_short", f"use at least {MIN_PASSWORD} characters", field="password"
        )
    if len(password) > MAX_PASSWORD:
        raise APIError(422, "password_too_long", "that password is too long", field="password")
    if password != confirm:
        raise APIError(422, "password_mismatch", "the two passwords differ", field="confirm")


def redeem(session: Session, token: str, password: str, confirm: str) -> User:
    """Set the password through a link: once only; every session of the account ends."""
    link = link_for(session, token)
    if link is None:
        raise APIError(
            410, "link_expired", "this link has been used or has expired: ask for a new one"
        )
    check_password_rules(password, confirm)
    claimed = session.execute(
        update(AccountLink)
        .where(AccountLink.id == link.id, AccountLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if not getattr(claimed, "rowcount", 0):  # used by a concurrent request
        raise APIError(410, "link_expired", "this link has just been used")
    user = session.get(User, link.user_id)
    assert user is not None
    user.password_hash = hash_password(password)
    user.session_generation = (user.session_generation or 0) + 1
    return user


def link_mail(session: Session, user: User, purpose: str, token: str) -> None:
    """Mail the link (call it only when mail is on: grader.service.mail sends it, with
    PUBLIC_URL in front). It is never listed in the app, and the mail scrubs the link once
    sent or given up."""
    path = f"/account/password/{token}"
    if purpose == "welcome":
        subject = "Your grader account"
        body = (
            f"Hello {user.name},\n\nan account was created for you on grader. "
            f"Set your password within {WELCOME_HOURS // 24} days with this link (it works once):"
        )
    else:
        subject = "Reset your grader password"
        body = (
            f"Hello {user.name},\n\nsomeone asked to reset your grader password. If it was you, "
            f"set a new one within {RESET_HOURS} hours with this link (it works once); "
            "otherwise ignore this mail."
        )
    session.add(
        Notification(
            user_id=user.id,
            kind=ACCOUNT_LINK,
            subject=subject,
            body=body,
            link=path,
            email_to=user.email,
            read_at=utcnow(),  # never listed in the app: the mail is the message
        )
    )
    session.flush()


#: The notification kind of mailed account links (not shown in the app).
ACCOUNT_LINK = "account_link"
