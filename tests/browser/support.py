"""Helpers shared by the page tests (Flask test client) and the browser tests (Playwright):
users who can sign in, signing in, and the app served on a loopback port."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class WebUser:
    id: int
    name: str
    email: str
    password: str = PASSWORD


@lru_cache(maxsize=1)
def _password_hash() -> str:
    # Production hashes are scrypt (grader.service.passwords), slow on purpose: ~0.3 s per
    # sign-in here. Test users get a cheap hash that the same check_password verifies.
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def add_web_users(app: Any) -> dict[str, WebUser]:
    """An admin, two instructors and three learners, each with an email and the password."""
    from grader.service.models import Role, User

    people = (
        ("admin", Role.ADMIN, "Ada Admin"),
        ("instructor", Role.INSTRUCTOR, "Iris Instructor"),
        ("instructor2", Role.INSTRUCTOR, "Ivan Instructor"),
        ("learner", Role.LEARNER, "Lena Learner"),
        ("learner2", Role.LEARNER, "Leo Learner"),
        ("learner3", Role.LEARNER, "Lia Learner"),
    )
    out: dict[str, WebUser] = {}
    with app.app_context(), app.extensions["db"].session_scope() as session:
        for key, role, name in people:
            email = f"{key}@example.test"
            user = User(name=name, role=role, email=email, password_hash=_password_hash())
            session.add(user)
            session.flush()
            out[key] = WebUser(user.id, name, email)
    return out


def add_assignment(app: Any, slug: str = "ml-health-check") -> str:
    from grader.service.models import Assignment
    from grader.service.operations.rubrics import rubric_path, store_rubric

    with app.app_context(), app.extensions["db"].session_scope() as session:
        version = store_rubric(
            session, rubric_path(app.config["RUBRICS_DIR"], "ml-health-check.toml")
        )
        session.add(
            Assignment(
                slug=slug,
                title="ML System Health Check",
                rubric_file="ml-health-check.toml",
                rubric_version=version.version,
            )
        )
    return slug


def submit_as(app: Any, learner_id: int, content: str, slug: str = "ml-health-check") -> int:
    """Store a submission directly (as the pages and the API do), returning its id."""
    from sqlalchemy import select

    from grader.service.models import Assignment
    from grader.service.operations.submissions import submit

    with app.app_context(), app.extensions["db"].session_scope() as session:
        a = session.scalar(select(Assignment.id).where(Assignment.slug == slug))
        sub, _ = submit(session, a, learner_id, content)
        session.flush()
        return sub.id


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def signed_in_client(app: Any, user: WebUser) -> Any:
    """A test client signed in as user through the form."""
    client = app.test_client()
    assert login(client, user).status_code == 303
    return client


def login(client: Any, user: WebUser, password: str | None = None) -> Any:
    """Sign in through the form, as a browser would; returns the POST's response."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "email": user.email,
            "password": password or user.password,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log in test output
        pass


class LiveServer:
    """The Flask app on a free loopback port, served by werkzeug in a thread."""

    def __init__(self, app: Any):
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
