"""`grader platform ...`: register course platforms and manage their secrets from a shell."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask
from sqlalchemy import select

from ..db import get_db
from ..errors import APIError
from ..migrate import upgrade
from ..models import Platform
from ..operations.events import EVENT_TYPES
from ..operations.platforms import create_platform, get_platform, platform_json, rotate_secret
from .urls import Allowlist


@contextmanager
def _app() -> Iterator[Flask]:
    """The app (same settings as the server) on a migrated database, inside its context;
    its connections are closed afterwards."""
    from .. import create_app

    app = create_app()
    upgrade(app.config["DATABASE_URL"])
    try:
        with app.app_context():
            yield app
    finally:
        app.extensions["db"].engine.dispose()


@click.group("platform")
def platform_group() -> None:
    """Course platforms that submit through signed webhooks."""


@platform_group.command("add")
@click.argument("name")
@click.option("--events-url", help="https URL that receives grader's events.")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENT_TYPES),
    help="An event to send (repeat; default: all).",
)
def add(name: str, events_url: str | None, events: tuple[str, ...]) -> None:
    """Register platform NAME; print its signing secret and API token once."""
    with _app() as app, get_db().session_scope() as session:
        try:
            new = create_platform(
                session,
                name,
                events_url=events_url,
                events=list(events) if events else None,
                allowlist=Allowlist.parse(app.config["WEBHOOK_ALLOWED_HOSTS"]),
            )
        except APIError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"platform {name!r} registered; the secret and token are shown only now:")
        click.echo(f"signing secret: {new.secret}")
        click.echo(f"api token:      {new.token}")


@platform_group.command("list")
def list_() -> None:
    """List platforms, their endpoints and events."""
    with _app(), get_db().session_scope() as session:
        for p in session.scalars(select(Platform).order_by(Platform.name)):
            data = platform_json(session, p)
            state = "enabled" if p.events_enabled else "DISABLED"
            active = sum(1 for s in data["secrets"] if s["active"])
            click.echo(
                f"{p.name}\t{p.events_url or '-'}\t{state}\t{','.join(data['events'])}\t"
                f"{active} active secret(s)"
            )


@platform_group.command("rotate-secret")
@click.argument("name")
@click.option(
    "--grace",
    type=click.IntRange(0, 30 * 24 * 3600),
    default=None,
    help="Seconds the current secrets stay valid (default WEBHOOK_SECRET_GRACE).",
)
def rotate(name: str, grace: int | None) -> None:
    """Issue a new secret for NAME (printed once); the old ones expire after --grace."""
    with _app() as app, get_db().session_scope() as session:
        try:
            platform = get_platform(session, name)
        except APIError as exc:
            raise click.ClickException(f"no platform named {name!r}") from exc
        seconds = app.config["WEBHOOK_SECRET_GRACE"] if grace is None else grace
        secret = rotate_secret(session, platform, int(seconds))
        click.echo(f"new signing secret for {name!r} (previous ones expire in {seconds} s):")
        click.echo(secret.secret)
