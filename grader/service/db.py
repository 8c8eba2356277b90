"""The one place that owns the database engine and sessions.

Web requests get a session per request (rolled back on error, closed at teardown); Celery
tasks and commands use ``session_scope()``. SQLite runs in WAL mode with a busy timeout so
the web process and the worker can write the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


class Database:
    """Engine and session factory, attached to the app in init_app."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
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
            g.db_session = self.sessionmaker()
        session: Session = g.db_session
        return session

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


def get_db() -> Database:
    db: Database = current_app.extensions["db"]
    return db
