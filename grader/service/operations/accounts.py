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
    #: The one-time link's token, to show once to whoever asked, when it is not mailed (the
    #: mailed kind is made by the mail worker as it sends, so no token ever rests in the
    #: database); None when mailed.
    token: str | None


def hand_out(
    session: Session, user: User, purpose: str, actor: User | None, *, mail: bool
) -> NewAccount:
    """A new one-time link for user: mailed to their address (``mail``), or its token
    returned to show once."""
    if mail:
        mail_link(session, user, purpose, actor)
        return NewAccount(user, None)
    return NewAccount(user, issue_link(session, user, purpose, actor))


def _check(name: str, email: str, role: str, actor: User, where: str = "") -> tuple[str, str, Role]:
    prefix = f"{where}: " if where else ""
    bad = any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in name)
    name, email = " ".join(name.split()), email.strip()
    if bad:
        raise APIError(
            422, "invalid_name", f"{prefix}the name contains control characters", field="name"
        )
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
    session: Session,
    actor: User,
    name: str,
    email: str,
    role: str = "learner",
    *,
    mail: bool = False,
) -> NewAccount:
    """A new account without a password, and its welcome link, mailed with ``mail`` (409 if
    the email is taken)."""
    name, email, wanted = _check(name, email, role, actor)
    if find_by_email(session, email) is not None:
        raise APIError(409, "email_taken", f"an account with {email} exists already", field="email")
    user = User(name=name, email=email, role=wanted)
    session.add(user)
    session.flush()
    return hand_out(session, user, "welcome", actor, mail=mail)


@dataclass(frozen=True)
class RosterResult:
    created: list[NewAccount]
    #: Rows whose email has an account already (a roster can be uploaded again).
    existing: list[str]


def import_roster(
    session: Session,
    actor: User,
    text: str,
    default_role: str = "learner",
    *,
    mail: bool = False,
) -> RosterResult:
    """Accounts from a CSV roster with a header row: ``name`` and ``email`` columns, and an
    optional ``role``. All or nothing: any bad row refuses the whole file, naming its line."""
    if "\x00" in text:
        raise APIError(422, "invalid_roster", "the roster contains NUL characters", field="roster")
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as exc:
        raise APIError(
            422, "invalid_roster", f"the roster is not readable CSV: {exc}", field="roster"
        ) from None
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
    rows_ok: list[tuple[str, str, Role]] = []
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
        rows_ok.append((name, email, r))
    # Which addresses have an account, in a few queries for the whole roster (one per row
    # would scan the users once per row).
    taken = _existing_emails(session, [e.lower() for _, e, _ in rows_ok])
    existing = [e for _, e, _ in rows_ok if e.lower() in taken]
    wanted = [row for row in rows_ok if row[1].lower() not in taken]
    created = []
    for name, email, r in wanted:
        user = User(name=name, email=email, role=r)
        session.add(user)
        session.flush()
        created.append(hand_out(session, user, "welcome", actor, mail=mail))
    return RosterResult(created, existing)


def _existing_emails(session: Session, emails: list[str]) -> set[str]:
    """The lower-cased addresses among ``emails`` (lower-cased) that have an account."""
    found: set[str] = set()
    for i in range(0, len(emails), 500):
        found.update(
            (e or "").lower()
            for e in session.scalars(
                select(User.email).where(func.lower(User.email).in_(emails[i : i + 500]))
            )
        )
    return found


def new_link(session: Session, user: User, purpose: str, actor: User | None) -> AccountLink:
    """A new one-time link for user, without its token yet; the user's earlier unused links
    stop working (only the newest one does)."""
    assert purpose in ("welcome", "reset")
    if not user.email:
        raise APIError(422, "no_email", f"{user.name} has no email address to send a link to")
    now = utcnow()
    session.execute(
        update(AccountLink)
        .where(AccountLink.user_id == user.id, AccountLink.used_at.is_(None))
        .values(used_at=now)
        # Not matched against every link already in the session (a roster makes thousands).
        .execution_options(synchronize_session=False)
    )
    hours = WELCOME_HOURS if purpose == "welcome" else RESET_HOURS
    link = AccountLink(
        user_id=user.id,
        purpose=purpose,
        token_hash=None,
        expires_at=now + timedelta(hours=hours),
        created_by_id=actor.id if actor else None,
    )
    session.add(link)
    session.flush()
    return link


def mint(link: AccountLink) -> str:
    """The link's token, made now (only its hash is kept; minting again replaces it)."""
    token = secrets.token_urlsafe(32)
    link.token_hash = hash_token(token)
    return token


def issue_link(session: Session, user: User, purpose: str, actor: User | None = None) -> str:
    """A new one-time link for user, its token returned to show once (never stored)."""
    return mint(new_link(session, user, purpose, actor))


def link_again(session: Session, user: User, actor: User, *, mail: bool) -> NewAccount:
    """A new welcome link for someone who lost theirs. For an account that has a password
    already, the link is only ever mailed to its own address: shown to whoever asked, it
    would let them take the account over."""
    if user.role not in CREATABLE.get(actor.role, ()):
        raise APIError(403, "forbidden", f"only an admin can send links to {user.role.value}s")
    if user.password_hash and not mail:
        raise APIError(
            409,
            "has_password",
            f'{user.name} has a password: they can use "Forgot your password?" (this server '
            "sends no mail, so an administrator can run `grader user link` for them)",
        )
    return hand_out(session, user, "welcome", actor, mail=mail)


def request_reset(session: Session, email: str) -> Notification | None:
    """Forgot password, in the mail worker: a reset link mailed to the account with this
    address, if there is one (the web request did the same work either way)."""
    user = find_by_email(session, email)
    if user is None or not user.active or user.role == Role.PLATFORM or not user.email:
        return None
    return mail_link(session, user, "reset", None)


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
    # Every other link of the account stops working too (a welcome link seen by others).
    session.execute(
        update(AccountLink)
        .where(AccountLink.user_id == link.user_id, AccountLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    user = session.get(User, link.user_id)
    assert user is not None
    user.password_hash = hash_password(password)
    user.session_generation = (user.session_generation or 0) + 1
    return user


def mail_link(session: Session, user: User, purpose: str, actor: User | None) -> Notification:
    """A one-time link mailed to user: the notification names the link, and the mail worker
    makes its token as it sends (grader.service.mail), so no usable token rests in the
    database; never listed in the app."""
    link = new_link(session, user, purpose, actor)
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
    note = Notification(
        user_id=user.id,
        kind=ACCOUNT_LINK,
        subject=subject,
        body=body,
        account_link_id=link.id,
        email_to=user.email,
        read_at=utcnow(),  # never listed in the app: the mail is the message
    )
    session.add(note)
    session.flush()
    return note


#: The notification kind of mailed account links (not shown in the app).
ACCOUNT_LINK = "account_link"
