"""`grader user create|import|link`: accounts from the command line, with the one-time link
printed (or mailed, with --mail, when SMTP is configured)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from . import create_app, mail
from .db import get_db
from .errors import APIError
from .migrate import upgrade
from .models import Role, User
from .operations import accounts

#: The command line acts as an administrator.
_OPERATOR = User(name="command line", role=Role.ADMIN)


@click.group("user")
def user_group() -> None:
    """Web accounts (people who sign in with a password)."""


def _mail(send: bool) -> bool:
    if send and not mail.enabled(current_app.config):
        raise click.ClickException("--mail needs GRADER_SMTP_HOST (mail is off)")
    return send


def _print(made: list[accounts.NewAccount]) -> None:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    for new in made:
        if new.token is not None:
            click.echo(f"{new.user.email}\t{base}/account/password/{new.token}")


def _fail(exc: APIError) -> click.ClickException:
    return click.ClickException(exc.message)


@user_group.command("create")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["learner", "instructor", "admin"]), default="learner")
@click.option("--mail", "send", is_flag=True, help="Mail the link instead of printing it.")
def create(name: str, email: str, role: str, send: bool) -> None:
    """Create an account; print its one-time link to set a password (shown only now)."""
    app = create_app()
    with app.app_context():
        upgrade(app.config["DATABASE_URL"])
        session = get_db().session
        try:
            new = accounts.create_user(session, _OPERATOR, name, email, role, mail=_mail(send))
            _print([new])
        except APIError as exc:
            session.rollback()
            raise _fail(exc) from None
        session.commit()
        click.echo(f"created {role} {new.user.name!r} (user {new.user.id})", err=True)


@user_group.command("import")
@click.argument("roster", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--role", type=click.Choice(["learner", "instructor", "admin"]), default="learner",
              help="For rows without a role column.")  # fmt: skip
@click.option("--mail", "send", is_flag=True, help="Mail the links instead of printing them.")
def import_(roster: Path, role: str, send: bool) -> None:
    """Create the accounts of a CSV roster (name,email[,role]); all or nothing. Prints
    email<TAB>link per new account; addresses with an account are left as they are."""
    try:
        text = roster.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{roster} is not UTF-8 text") from None
    app = create_app()
    with app.app_context():
        upgrade(app.config["DATABASE_URL"])
        session = get_db().session
        try:
            result = accounts.import_roster(session, _OPERATOR, text, role, mail=_mail(send))
            _print(result.created)
        except APIError as exc:
            session.rollback()
            raise _fail(exc) from None
        session.commit()
        click.echo(
            f"created {len(result.created)} accounts; {len(result.existing)} existed already",
            err=True,
        )


@user_group.command("link")
@click.argument("email")
@click.option("--mail", "send", is_flag=True, help="Mail the link instead of printing it.")
def link(email: str, send: bool) -> None:
    """A new one-time link for an existing account (its earlier links stop working)."""
    app = create_app()
    with app.app_context():
        session = get_db().session
        user = accounts.find_by_email(session, email)
        if user is None or user.role == Role.PLATFORM:
            raise click.ClickException(f"no account with {email}")
        # The operator on this machine may print a link for any account (that is how an
        # account without mail gets back in).
        try:
            _print([accounts.hand_out(session, user, "welcome", None, mail=_mail(send))])
        except APIError as exc:
            raise _fail(exc) from None
        session.commit()
