"""`grader lti ...`: register LMS platforms and rotate grader's LTI key from a shell."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from ..db import get_db
from ..errors import APIError
from ..webhooks.commands import _app
from ..webhooks.urls import Allowlist
from .keys import rotate, signing_key
from .models import LtiPlatform
from .registry import add_platform, platform_json


@click.group("lti")
def lti_group() -> None:
    """LTI 1.3: LMS platforms that launch grader and take its grades."""


@lti_group.group("platform")
def platform_group() -> None:
    """LMS registrations (issuer, client id, deployments, endpoints)."""


@platform_group.command("add")
@click.option("--issuer", required=True, help="The platform's issuer (iss) URL.")
@click.option("--client-id", required=True, help="The client id the LMS gave grader.")
@click.option(
    "--deployment-id", "deployment_ids", required=True, multiple=True, help="Repeat for several."
)
@click.option("--auth-url", required=True, help="The platform's OIDC authorization URL.")
@click.option("--token-url", required=True, help="The platform's OAuth2 token URL.")
@click.option("--jwks-url", required=True, help="The platform's public keys (JWKS) URL.")
@click.option("--name", help="A name for people (default: the issuer).")
@click.option("--token-audience", help="The aud of client assertions (default: the token URL).")
@click.option(
    "--trust-instructors/--approve-instructors",
    default=None,
    help="LMS Instructors become grader instructors at once (grader's instructors see every "
    "course), or only once an admin approves them (the default).",
)
def add(
    issuer: str,
    client_id: str,
    deployment_ids: tuple[str, ...],
    auth_url: str,
    token_url: str,
    jwks_url: str,
    name: str | None,
    token_audience: str | None,
    trust_instructors: bool | None,
) -> None:
    """Register a platform (or add deployments to it) and print it with grader's URLs."""
    with _app() as app, get_db().session_scope() as session:
        try:
            platform, created = add_platform(
                session,
                issuer=issuer,
                client_id=client_id,
                deployment_ids=list(deployment_ids),
                auth_url=auth_url,
                token_url=token_url,
                jwks_url=jwks_url,
                name=name,
                token_audience=token_audience,
                trust_instructors=trust_instructors,
                allowlist=Allowlist.parse(app.config["WEBHOOK_ALLOWED_HOSTS"]),
            )
        except APIError as exc:
            raise click.ClickException(str(exc)) from exc
        signing_key(session)  # so /lti/jwks has a key from the first request on
        base = str(app.config["PUBLIC_URL"]).rstrip("/")
        click.echo(
            json.dumps(
                platform_json(platform)
                | {
                    "created": created,
                    "tool": {
                        "login_url": f"{base}/lti/login",
                        "launch_url": f"{base}/lti/launch",
                        "jwks_url": f"{base}/lti/jwks",
                        "config_url": f"{base}/lti/config.json",
                        "canvas_config_url": f"{base}/lti/canvas.json",
                    },
                },
                indent=2,
            )
        )


@platform_group.command("list")
def list_platforms() -> None:
    """Print the registered platforms as JSON."""
    with _app(), get_db().session_scope() as session:
        rows = session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)).all()
        click.echo(json.dumps([platform_json(p) for p in rows], indent=2))


@lti_group.command("rotate-key")
def rotate_key() -> None:
    """Make a new signing key; the old one stays published for LTI_KEY_GRACE seconds."""
    with _app(), get_db().session_scope() as session:
        key = rotate(session)
        click.echo(key.kid)
