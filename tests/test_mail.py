"""Mail through a real SMTP server on loopback: what a release and a regrade answer send, the
retries after a temporary refusal, a permanent refusal, a server that is down, and mail off."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from grader.service import mail
from grader.service.models import Notification, User

from .conftest import graded, make_app
from .smtp import SMTPServer


@pytest.fixture()
def smtp():
    with SMTPServer() as server:
        yield server


@pytest.fixture()
def app(tmp_path, db_url, smtp):
    return make_app(
        tmp_path,
        db_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        MAIL_FROM="grader@course.example",
        MAIL_RETRY_SECONDS=0,
        MAIL_MAX_TRIES=3,
        PUBLIC_URL="https://grader.example.edu/",
    )


@pytest.fixture()
def sent(monkeypatch):
    """The mail tasks the web process queues (sent to the test broker; run by hand here)."""
    queued: list[int] = []
    monkeypatch.setattr(mail, "enqueue_mail", lambda ident: queued.append(ident) or True)
    return queued


def _release(app, client, actors, learner_email="learner@course.example"):
    with app.app_context():
        with app.extensions["db"].session_scope() as session:
            session.get(User, actors.id("learner")).email = learner_email
    return graded(app, client, actors, release=True)


def _note(app, ident):
    with app.app_context():
        with app.extensions["db"].session_scope() as session:
            n = session.get(Notification, ident)
            session.expunge(n)
            return n


def test_a_release_mails_the_learner_with_a_link(
    app, client, actors, assignment, enqueued, smtp, sent
):
    sid = _release(app, client, actors)
    assert len(sent) == 1  # queued after the commit, once
    with app.app_context():
        assert mail.send_one(sent[0], app.config) == ("sent", None)
        # A second delivery of the same task sends nothing more.
        assert mail.send_one(sent[0], app.config) == ("skipped", None)
    [msg] = smtp.messages
    assert msg["To"] == "learner@course.example"
    assert msg["From"] == "grader@course.example"
    assert msg["Subject"].startswith("Your grade for")
    body = msg.get_content()
    assert f"https://grader.example.edu/submissions/{sid}" in body
    assert _note(app, sent[0]).email_status == "sent"


def test_a_temporary_refusal_is_retried_then_sent(
    app, client, actors, assignment, enqueued, smtp, sent
):
    smtp.inbox.refuse = ["451 4.3.0 mailbox busy, try later"]
    _release(app, client, actors)
    with app.app_context():
        outcome, delay = mail.send_one(sent[0], app.config)
        assert outcome == "retry" and delay == 0
        note = _note(app, sent[0])
        assert note.email_status == "pending" and note.email_tries == 1
        assert "451" in (note.email_error or "")
        assert mail.send_one(sent[0], app.config) == ("sent", None)
    assert len(smtp.messages) == 1


def test_a_permanent_refusal_fails_at_once(app, client, actors, assignment, enqueued, smtp, sent):
    smtp.inbox.refuse_rcpt = ["550 5.1.1 no such user"]
    _release(app, client, actors)
    with app.app_context():
        assert mail.send_one(sent[0], app.config) == ("failed", None)
    note = _note(app, sent[0])
    assert note.email_status == "failed" and "550" in (note.email_error or "")
    assert smtp.messages == []


def test_a_server_wide_refusal_is_retried(app, client, actors, assignment, enqueued, smtp, sent):
    """A 5xx for the message as a whole (a policy, the settings) may pass once fixed: it
    is retried like a temporary one, within MAIL_MAX_TRIES."""
    smtp.inbox.refuse = ["554 5.7.1 relay not permitted"]
    _release(app, client, actors)
    with app.app_context():
        assert mail.send_one(sent[0], app.config)[0] == "retry"
        assert mail.send_one(sent[0], app.config) == ("sent", None)


def test_an_unexpected_error_counts_as_a_try(
    app, client, actors, assignment, enqueued, sent, monkeypatch
):
    """Anything that breaks making or sending a mail is a failed try, never a row left
    "sending" for ever (a fake SMTP client that raises what smtplib does not declare)."""
    _release(app, client, actors)

    def broken(msg, config):
        raise RuntimeError("the SMTP client broke")

    monkeypatch.setattr(mail, "deliver", broken)
    with app.app_context():
        assert mail.send_one(sent[0], app.config)[0] == "retry"
    note = _note(app, sent[0])
    assert note.email_status == "pending" and note.email_tries == 1
    assert "RuntimeError" in (note.email_error or "")


def test_a_server_that_is_down_fails_after_the_tries(
    app, client, actors, assignment, enqueued, sent
):
    _release(app, client, actors)
    app.config["SMTP_PORT"] = 9  # nothing listens there
    with app.app_context():
        assert mail.send_one(sent[0], app.config)[0] == "retry"
        assert mail.send_one(sent[0], app.config)[0] == "retry"
        assert mail.send_one(sent[0], app.config) == ("failed", None)
    assert _note(app, sent[0]).email_tries == 3


def test_the_sweep_takes_back_lost_and_abandoned_mails(
    app, client, actors, assignment, enqueued, smtp, sent
):
    from datetime import timedelta

    from grader.service.models import utcnow

    _release(app, client, actors)
    with app.app_context():
        with app.extensions["db"].session_scope() as session:
            note = session.get(Notification, sent[0])
            note.email_status, note.email_next_at = "sending", utcnow() - timedelta(seconds=1)
        assert mail.sweep.run() == 0  # taken back now, due after the sweep interval
        with app.extensions["db"].session_scope() as session:
            note = session.get(Notification, sent[0])
            assert note.email_status == "pending"
            note.email_next_at = utcnow() - timedelta(hours=1)
        assert mail.sweep.run() == 1
    assert sent == [sent[0], sent[0]]


def test_no_address_no_mail_and_mail_off_by_default(
    tmp_path, db_url, client, actors, assignment, enqueued, sent
):
    # The learner has no address: kept in the app only.
    app = client.application
    _release(app, client, actors, learner_email=None)
    with app.app_context():
        with app.extensions["db"].session_scope() as session:
            [note] = session.scalars(select(Notification)).all()
            assert note.email_status is None
    assert sent == []
    # Without SMTP_HOST nothing is ever marked for mail.
    quiet = make_app(tmp_path / "off", db_url)
    assert not mail.enabled(quiet.config)


def test_a_subject_cannot_carry_headers(app):
    note = Notification(
        subject="Grade\r\nBcc: everyone@example.com", body="b", email_to="a@example.com", link=None
    )
    msg = mail.compose(note, app.config)
    assert msg["Bcc"] is None and msg["Subject"] == "Grade Bcc: everyone@example.com"


def test_a_mail_accepted_before_a_failed_quit_counts_as_sent(
    app, client, actors, assignment, enqueued, smtp, sent, monkeypatch
):
    """The server accepted the message and then answered QUIT badly: the mail is sent (a
    retry would send it twice and, for a one-time link, kill the first link)."""
    import smtplib

    _release(app, client, actors)
    real_quit = smtplib.SMTP.quit

    def bad_quit(self):
        real_quit(self)
        raise smtplib.SMTPResponseException(421, b"closing")

    monkeypatch.setattr(smtplib.SMTP, "quit", bad_quit)
    with app.app_context():
        assert mail.send_one(sent[0], app.config) == ("sent", None)
    assert len(smtp.messages) == 1
