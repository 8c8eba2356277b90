"""The review queue's sort orders are read from an index, not sorted: on PostgreSQL, with
sorting and table scans priced out, no plan of any sort (either direction, with or without
a cursor) holds a Sort node. SQLite's plans are its own (0030); this runs on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from grader.service.operations.queue import QueueFilter, queue_after, queue_cursor, queue_query

SORTS = ("confidence", "-confidence", "time", "-time", "total", "-total")


@pytest.mark.parametrize("scoped", [True, False], ids=["assignment", "all"])
def test_every_queue_sort_is_served_by_an_index(app, assignment, scoped):
    db = app.extensions["db"]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans")
    from grader.service.models import Submission

    sorts = SORTS if scoped else ("confidence", "-confidence")  # the cross-course queue
    # A row a page might have ended on: its keys make the cursor.
    probe = Submission(
        id=7, confidence=0.5, total=40.0, created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    with app.app_context():
        s = db.session
        for setting in ("enable_sort", "enable_seqscan", "enable_bitmapscan"):
            s.execute(text(f"SET LOCAL {setting} = off"))
        for sort in sorts:
            filters = QueueFilter(sort=sort, **({"assignment": assignment} if scoped else {}))
            query, _ = queue_query(filters)
            cursor = queue_cursor(probe, sort)
            for q in (query, queue_after(query, sort, cursor)):
                compiled = q.limit(50).compile(
                    dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
                )
                plan = "\n".join(r[0] for r in s.execute(text(f"EXPLAIN {compiled}")))
                assert "Sort" not in plan.replace("Sort Key", ""), (sort, plan)
        s.rollback()
