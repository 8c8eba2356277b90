"""Units of work stay atomic on both databases, savepoints included.

SQLite's driver begins a transaction only before a write, so a SAVEPOINT that came first
opened the transaction itself and its RELEASE committed: a later rollback kept the rows
(measured before the fix: 1 row left where 0 belong). grader.service.db begins first.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from grader.service.db import make_engine


def test_a_rollback_after_a_released_savepoint_keeps_nothing(db_url):
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE atomic_probe (x integer)"))
        with Session(engine) as session:
            session.execute(text("SELECT 1"))  # reads only: no transaction on SQLite yet
            with session.begin_nested():
                session.execute(text("INSERT INTO atomic_probe VALUES (1)"))
            session.execute(text("INSERT INTO atomic_probe VALUES (2)"))
            session.rollback()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM atomic_probe")).scalar() == 0
        with Session(engine) as session:
            with session.begin_nested():
                session.execute(text("INSERT INTO atomic_probe VALUES (3)"))
            session.commit()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM atomic_probe")).scalar() == 1
    finally:
        engine.dispose()
