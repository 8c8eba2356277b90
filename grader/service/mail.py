"""Mail: notifications sent by SMTP when SMTP_HOST is set (off by default).

A notification is marked for mail in the transaction that creates it; after that transaction
commits, one ``grader.mail.send`` task per notification is queued. The task claims the row
(pending -> sending, so two workers never send the same mail), sends it, and on a temporary
failure schedules a retry with growing delays, up to MAIL_MAX_TRIES; a permanent refusal
(5xx) fails it at once. The periodic sweep sends rows whose task was lost and takes back rows
a dead worker left in "sending". A worker killed after the SMTP server accepted a mail but
before the row was marked sent would send it again: mail is at-least-once.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from celery import Task, shared_task
from flask import current_app, has_app_context
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from .db import get_db
from .models import AccountLink, Notification, utcnow
from .operations.accounts import mint, request_reset
from .tasks import send_task

log = logging.getLogger(__name__)

_NEW_MAIL = "grader.mail.new"
#: How long a "sending" row is left to its worker before the sweep takes it back.
SENDING_TIMEOUT = timedelta(minutes=10)
#: The longest wait between two tries.
MAX_DELAY = 3600.0


def enabled(config: Any) -> bool:
    return bool(config.get("SMTP_HOST"))


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if not has_app_context() or not enabled(current_app.config):
        return
    for obj in session.new:
        if isinstance(obj, Notification) and obj.email_to and obj.email_status is None:
            obj.email_status = "pending"
            obj.email_next_at = utcnow()
            session.info.setdefault(_NEW_MAIL, []).append(obj)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the rows are not committed yet
        return
    notes: list[Notification] = session.info.pop(_NEW_MAIL, None) or []
    # The ids were assigned at flush (reading them does not touch the database); a row a
    # rolled-back savepoint took away has no identity any more.
    ids = [i for n in notes if inspect(n).has_identity and (i := n.__dict__.get("id")) is not None]
    for ident in ids:
        enqueue_mail(ident)


def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's rollback keeps the others
        session.info.pop(_NEW_MAIL, None)


def install() -> None:
    """Register the session listeners (idempotent)."""
    for name, fn in (
        ("before_flush", _before_flush),
        ("after_commit", _after_commit),
        ("after_rollback", _after_rollback),
    ):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


def compose(note: Notification, config: Any, link: str | None = None) -> EmailMessage:
    """The mail for a notification: plain text, with a link to its page (``link``: a
    one-time link's path, made as the mail is sent)."""
    msg = EmailMessage()
    # Header values never carry line breaks (a title could otherwise inject headers).
    msg["Subject"] = " ".join(note.subject.split())
    msg["From"] = config["MAIL_FROM"]
    msg["To"] = note.email_to or ""
    body = note.body
    path = link or note.link
    if path:
        body += f"\n\n{config['PUBLIC_URL'].rstrip('/')}{path}"
    msg.set_content(body + "\n\n-- \ngrader\n")
    return msg


def deliver(msg: EmailMessage, config: Any) -> None:
    """Send one message through the configured SMTP server (raises smtplib/OSError errors)."""
    s = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"])
    try:
        if config["SMTP_STARTTLS"]:
            s.starttls(context=ssl.create_default_context())
        if config["SMTP_USERNAME"]:
            s.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
        s.send_message(msg)
    except BaseException:
        s.close()
        raise
    # Accepted: whatever the server says to QUIT, the mail is sent (a retry would send it
    # twice, and mint a new one-time link that kills the first).
    try:
        s.quit()
    except (smtplib.SMTPException, OSError):
        s.close()


def _one_time_link(session: Session, note: Notification) -> str | None:
    """For a mailed account link: its token, made now (only the hash is kept), as a path;
    None for other mail. A link that was used or expired meanwhile gets no token."""
    if note.account_link_id is None:
        return None
    link = session.get(AccountLink, note.account_link_id)
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise _Gone("the one-time link was used or expired before its mail went out")
    return f"/account/password/{mint(link)}"


class _Gone(Exception):
    """Nothing left to mail."""


def _permanent(exc: Exception) -> bool:
    """A refusal that a retry would meet again: the recipient refused (SMTP 5xx at RCPT),
    or a mail that cannot be made. A server-wide refusal (authentication, the sender) is
    retried, since fixing the settings makes it pass."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, _Gone | ValueError | UnicodeError)


def send_one(notification_id: int, config: Any) -> tuple[str, float | None]:
    """Claim, send and record one notification's mail: (outcome, seconds until a retry)."""
    db = get_db()
    with db.session_scope() as session:
        claimed = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.email_status == "pending")
            .values(email_status="sending", email_next_at=utcnow() + SENDING_TIMEOUT)
        )
        if not getattr(claimed, "rowcount", 0):
            return "skipped", None
        note = session.get(Notification, notification_id)
        assert note is not None
        error: Exception | None = None
        try:
            msg = compose(note, config, _one_time_link(session, note))
        except Exception as exc:  # counted as a try below, never left "sending"
            error = exc
    if error is None:
        try:
            deliver(msg, config)
        except Exception as exc:  # smtplib, the network, an encoding: a try that failed
            error = exc
    with db.session_scope() as session:
        note = session.get(Notification, notification_id)
        assert note is not None
        note.email_tries += 1
        if error is None:
            note.email_status, note.email_error, note.email_next_at = "sent", None, None
            return "sent", None
        note.email_error = f"{type(error).__name__}: {error}"[:500]
        if _permanent(error) or note.email_tries >= config["MAIL_MAX_TRIES"]:
            note.email_status, note.email_next_at = "failed", None
            log.warning("mail %s failed for good: %s", notification_id, note.email_error)
            return "failed", None
        delay = min(MAX_DELAY, config["MAIL_RETRY_SECONDS"] * 2 ** (note.email_tries - 1))
        note.email_status = "pending"
        note.email_next_at = utcnow() + timedelta(seconds=delay)
        log.info("mail %s: %s; retrying in %.0f s", notification_id, note.email_error, delay)
        return "retry", delay


@shared_task(name="grader.mail.send", bind=True, ignore_result=True, max_retries=None)
def send(self: Task, notification_id: int) -> str:
    outcome, delay = send_one(notification_id, current_app.config)
    if delay is not None:
        raise self.retry(countdown=delay)
    return outcome


@shared_task(name="grader.mail.sweep", ignore_result=True)
def sweep() -> int:
    """Queue the mails that are due (a lost task, a retry past its time) and take back those
    a dead worker left sending."""
    if not enabled(current_app.config):
        return 0
    now = utcnow()
    with get_db().session_scope() as session:
        session.execute(
            update(Notification)
            .where(Notification.email_status == "sending", Notification.email_next_at < now)
            .values(email_status="pending", email_next_at=now)
        )
        # A retry's own countdown normally sends it: the sweep only takes ones well past due.
        late = now - timedelta(seconds=float(current_app.config["MAIL_SWEEP_INTERVAL"]))
        ids = list(
            session.scalars(
                select(Notification.id)
                .where(Notification.email_status == "pending", Notification.email_next_at < late)
                .order_by(Notification.id)
                .limit(500)
            )
        )
        # Not again at the next sweep: a backlog is queued once, not once per sweep.
        if ids:
            session.execute(
                update(Notification)
                .where(Notification.id.in_(ids))
                .values(email_next_at=now + SENDING_TIMEOUT)
            )
    for ident in ids:
        enqueue_mail(ident)
    return len(ids)


@shared_task(name="grader.mail.reset", ignore_result=True)
def reset(email: str) -> str:
    """Forgot password, done here rather than in the web request, so that the request does
    the same work (and takes the same time) whether or not the address has an account."""
    with get_db().session_scope() as session:
        note = request_reset(session, email)
    return "mailed" if note is not None else "no account"


def enqueue_reset(email: str) -> bool:
    return send_task(reset, email)


def enqueue_mail(notification_id: int) -> bool:
    """Send send(notification_id); False (logged) if the broker is unreachable: the row stays
    pending and the sweep sends it later."""
    return send_task(send, notification_id)
