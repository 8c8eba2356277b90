"""The one place that owns the database engine and sessions.

Web requests get a session per request (rolled back on error, closed at teardown); Celery
tasks and commands use ``session_scope()``. SQLite runs in WAL mode with a busy timeout so
the web process and the worker can write the same file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from .models import Assignment

#: How long a process keeps an assignment's opening and due times before reading them again.
WINDOW_SECONDS = 5.0
#: (opens_at, due_at, late_policy)
# (opens_at, due_at, late_policy, restricted): what the submit path needs of an assignment.
AssignmentTimes = tuple[datetime | None, datetime | None, str, bool]

F = TypeVar("F", bound=Callable[..., Any])


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite's own lower() folds ASCII only: searches ("Émile", "ÜBER") and email matching
    # fold every letter, as on PostgreSQL.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _begin_before_savepoint(conn: Any, _name: Any) -> None:
    """SQLite's driver begins a transaction only before a write, so a SAVEPOINT that comes
    first opened the transaction itself, and its RELEASE committed everything: the rest of
    the unit of work was no longer atomic (a rollback after it kept the savepoint's rows).
    A BEGIN first keeps the savepoint inside the session's transaction."""
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        raw.execute("BEGIN")


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _asynchronous_commit(dbapi_connection: Any, _record: Any) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    dbapi_connection.execute("SET synchronous_commit = off")
    dbapi_connection.autocommit = autocommit


def make_engine(url: str, *, asynchronous_commit: bool = False) -> Engine:
    """The engine for url; ``asynchronous_commit`` (PostgreSQL only) for work that is safe to
    lose in a database crash because it is redone (see WORKER_ASYNC_COMMIT)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _begin_before_savepoint)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    if asynchronous_commit:
        event.listen(engine, "connect", _asynchronous_commit)
    return engine


class Database:
    """Engine and session factory, attached to the app in init_app."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None
        self._windows: dict[str, tuple[float, int, AssignmentTimes]] = {}

    def init_app(self, app: Flask) -> None:
        cfg = app.config
        self.engine = make_engine(
            cfg["DATABASE_URL"],
            asynchronous_commit=cfg["PROCESS_ROLE"] == "worker" and cfg["WORKER_ASYNC_COMMIT"],
        )
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit_sessions = (
            sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
            if self.engine.dialect.name == "postgresql"
            else None
        )
        app.extensions["db"] = self
        app.teardown_appcontext(self._close)

    def _close(self, exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    @property
    def session(self) -> Session:
        """The current request's (or app context's) session."""
        if "db_session" not in g:
            assert self.sessionmaker is not None, "Database.init_app was not called"
            maker = self.sessionmaker
            if g.get("db_single_statement_writes") and self._autocommit_sessions is not None:
                maker = self._autocommit_sessions
            g.db_session = maker()
        session: Session = g.db_session
        return session

    def assignment_window(self, slug: str) -> tuple[int, AssignmentTimes] | None:
        """The assignment's id and when it takes answers (opens_at, due_at, late_policy).
        Its times can change (PATCH), so they are kept for WINDOW_SECONDS only: a change
        reaches every process within that."""
        now = time.monotonic()
        hit = self._windows.get(slug)
        if hit is not None and now - hit[0] < WINDOW_SECONDS:
            return hit[1], hit[2]
        row = self.session.execute(
            select(
                Assignment.id,
                Assignment.opens_at,
                Assignment.due_at,
                Assignment.late_policy,
                Assignment.restricted,
            ).where(Assignment.slug == slug)
        ).one_or_none()
        if row is None:
            return None
        window: AssignmentTimes = (row.opens_at, row.due_at, row.late_policy, row.restricted)
        self._windows[slug] = (now, row.id, window)
        return row.id, window

    def forget_window(self, slug: str) -> None:
        """This process changed the assignment's times: read them again at once."""
        self._windows.pop(slug, None)

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session for one unit of work outside a request: commit, or roll back on error."""
        assert self.sessionmaker is not None, "Database.init_app was not called"
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def single_statement_writes(view: F) -> F:
    """For views whose every write is one statement (atomic on its own): on PostgreSQL their
    session runs in autocommit, which saves the BEGIN and COMMIT round trips. Used only on
    the hot path, submitting; a view that writes twice must not use it."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.db_single_statement_writes = True
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def get_db() -> Database:
    db: Database = current_app.extensions["db"]
    return db
