"""Service commands for the `grader` CLI: database, seed data, tokens, running everything.

They use the same settings (and so the same default database) as the server, so
`grader token create` works beside a running `make run`.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from . import create_app
from .auth import issue_token
from .db import get_db
from .errors import APIError
from .migrate import upgrade
from .models import ApiToken, Assignment, Role, User, utcnow
from .passwords import hash_password
from .supervise import Child, supervise

DEMO_ASSIGNMENT = ("ml-health-check", "ml-health-check.toml")
DEMO_USERS = (
    ("Demo Admin", Role.ADMIN, "admin@example.test"),
    ("Demo Instructor", Role.INSTRUCTOR, "instructor@example.test"),
    ("Demo Learner", Role.LEARNER, "learner@example.test"),
    ("Demo Learner Two", Role.LEARNER, "learner2@example.test"),
)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (never drops data)."""
    app = create_app()
    upgrade(app.config["DATABASE_URL"])
    click.echo(f"database is at the latest schema: {_redact(app.config['DATABASE_URL'])}")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@click.group("token")
def token_group() -> None:
    """API tokens."""


@token_group.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--name", required=True, help="The new user's name (or the token's label with --user)."
)
@click.option("--user", "user_id", type=int, help="Add a token for an existing user instead.")
def token_create(role: str, name: str, user_id: int | None) -> None:
    """Create a user with ROLE (or use --user) and print a new token once, on the last line."""
    app = create_app()
    with app.app_context():
        upgrade(app.config["DATABASE_URL"])
        with get_db().session_scope() as session:
            if user_id is not None:
                user = session.get(User, user_id)
                if user is None:
                    raise click.ClickException(f"no user with id {user_id}")
                if user.role.value != role:
                    raise click.ClickException(f"user {user_id} has role {user.role.value}")
            else:
                user = User(name=name, role=Role(role))
                session.add(user)
                session.flush()
            token = issue_token(session, user, name)
            click.echo(
                f"token for {user.role.value} {user.name!r} (user {user.id}); it is shown only now:"
            )
            click.echo(token)


@token_group.command("list")
def token_list() -> None:
    """List tokens (prefixes only; tokens are stored hashed)."""
    app = create_app()
    with app.app_context(), get_db().session_scope() as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = "revoked" if t.revoked_at else "active"
            click.echo(f"{t.id}\t{t.prefix}…\t{t.user.role.value}\t{t.user.name}\t{state}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id (see `grader token list`)."""
    app = create_app()
    with app.app_context(), get_db().session_scope() as session:
        t = session.get(ApiToken, token_id)
        if t is None:
            raise click.ClickException(f"no token with id {token_id}")
        t.revoked_at = t.revoked_at or utcnow()
        click.echo(f"revoked token {token_id} ({t.prefix}…)")


def seed_demo(app: Any) -> list[tuple[str, str, str, str]]:
    """Create the demo assignment and accounts if missing; return new (role, name, email,
    password, token) credentials, which exist only in this return value."""
    from .operations.rubrics import rubric_path, store_rubric

    created: list[tuple[str, str, str, str]] = []
    with app.app_context(), get_db().session_scope() as session:
        slug, rubric_file = DEMO_ASSIGNMENT
        if session.scalar(select(Assignment).where(Assignment.slug == slug)) is None:
            version = store_rubric(session, rubric_path(app.config["RUBRICS_DIR"], rubric_file))
            session.add(
                Assignment(
                    slug=slug,
                    title="ML System Health Check",
                    rubric_file=rubric_file,
                    rubric_version=version.version,
                )
            )
        for name, role, email in DEMO_USERS:
            if session.scalar(select(User).where(User.email == email)) is not None:
                continue
            password = secrets.token_urlsafe(12)
            user = User(name=name, role=role, email=email, password_hash=hash_password(password))
            session.add(user)
            session.flush()
            token = issue_token(session, user, f"{name} (demo)")
            created.append((f"{role.value:<10} {email}", password, token, name))
    return created


@click.command()
@click.option(
    "--synthetic",
    type=click.IntRange(1, 1_000_000),
    help="Also create N learners with one graded answer each (data at scale to try).",
)
@click.option(
    "--assignment", "slug", default=DEMO_ASSIGNMENT[0], show_default=True, help="For --synthetic."
)
def seed(synthetic: int | None, slug: str) -> None:
    """Create the ml-health-check assignment and demo accounts (credentials printed once)."""
    import time

    from .operations.assignments import get_assignment
    from .operations.synthetic import seed_synthetic

    app = create_app()
    upgrade(app.config["DATABASE_URL"])
    _print_credentials(seed_demo(app))
    if synthetic is None:
        return
    started = time.monotonic()
    with app.app_context(), get_db().session_scope() as session:
        try:
            a = get_assignment(session, slug)
        except APIError:
            raise click.UsageError(f"no assignment {slug!r}") from None
        try:
            made = seed_synthetic(session, a, synthetic)
        except APIError as exc:
            raise click.UsageError(exc.message) from None
    click.echo(
        f"{made['learners']} synthetic learners in {made['assignment']}, one graded answer each "
        f"({made['distinct_answers']} distinct answers graded; {made['released']} released, "
        f"{made['reviewed']} reviewed) in {time.monotonic() - started:.1f} s"
    )


def _print_credentials(created: list[tuple[str, str, str, str]]) -> None:
    if not created:
        click.echo("demo accounts already exist (create more with `grader token create`)")
        return
    click.echo("demo accounts (shown once; passwords for the web pages, tokens for the API):")
    for who, password, token, _ in created:
        click.echo(f"  {who}  password: {password}  token: {token}")


@click.command()
def reconcile() -> None:
    """Re-enqueue submissions stuck in queued or grading, once."""
    from .tasks import reconcile as task

    app = create_app()
    with app.app_context():
        click.echo(f"re-enqueued {task()} submissions")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    default=lambda: int(os.environ.get("PORT", "5000")),
    type=int,
    help="default: $PORT or 5000",
)
@click.option("--web-workers", default=2, show_default=True)
@click.option("--concurrency", default=os.cpu_count() or 2, show_default="cores")
def run(host: str, port: int, web_workers: int, concurrency: int) -> None:
    """Migrate, seed, then run the web server and a grading worker together (Ctrl-C stops
    both)."""
    app = create_app()
    upgrade(app.config["DATABASE_URL"])
    _print_credentials(seed_demo(app))
    instance = Path(app.instance_path)
    env = dict(os.environ)
    web = Child(
        "web server",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(web_workers),
            # Sync workers on purpose: every request is short and bounded (grading runs in
            # the worker), so a request over --timeout is a bug to kill, not to wait for.
            "--worker-class",
            "sync",
            "--timeout",
            "60",
            "--graceful-timeout",
            "30",
            "--access-logfile",
            "-",
            "grader.service.wsgi:app",
        ],
        env,
    )
    worker = Child(
        "grading worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker.celery_app",
            "worker",
            "--beat",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--schedule",
            str(instance / "celerybeat-schedule"),
        ],
        env,
    )
    click.echo(f"grader is running on http://{host}:{port}  (Ctrl-C stops it)")
    # Each child in its own process group: Ctrl-C reaches only this command, which stops
    # both gracefully (a SIGINT would make gunicorn drop requests mid-response), and a child
    # that dies is started again.
    supervise([web, worker], echo=lambda line: click.echo(f"grader run: {line}", err=True))
