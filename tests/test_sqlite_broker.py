"""The embedded broker keeps Redis' guarantees: a message a consumer took and never
acknowledged comes back after the visibility timeout; an acknowledged one is gone."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from kombu import Connection

from grader.service.sqlite_broker import ALIAS, broker_url


def _connection(path: Path, visibility: float = 1.0) -> Connection:
    return Connection(
        broker_url(f"sqla+sqlite:///{path}"),
        transport_options={"visibility_timeout": visibility},
    )


def _rows(path: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, visible FROM kombu_message ORDER BY id").fetchall()


def _take(conn: Connection, queue: str = "q"):
    return conn.SimpleQueue(queue, no_ack=False).get(timeout=2)


def test_the_url_maps_to_this_transport():
    assert broker_url("sqla+sqlite:///x.db") == f"{ALIAS}+sqlite:///x.db"
    assert broker_url("redis://h:6379/0") == "redis://h:6379/0"


def test_an_acknowledged_message_is_deleted(tmp_path):
    db = tmp_path / "broker.db"
    with _connection(db) as conn:
        conn.SimpleQueue("q").put({"n": 1})
        message = _take(conn)
        assert message.payload == {"n": 1} and _rows(db)[0][1] == 0  # taken: invisible
        message.ack()
    assert _rows(db) == []


def test_a_message_whose_consumer_died_is_delivered_again_after_the_timeout(tmp_path):
    db = tmp_path / "broker.db"
    first = _connection(db, visibility=1.0)
    first.SimpleQueue("q").put({"n": 2})
    assert _take(first).payload == {"n": 2}
    # The consumer vanishes without acknowledging or restoring (kill -9).
    with _connection(db, visibility=1.0) as second:
        queue = second.SimpleQueue("q", no_ack=False)
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.3)  # still within its visibility timeout
        time.sleep(1.2)
        again = queue.get(timeout=3)
        assert again.payload == {"n": 2}
        again.ack()
    assert _rows(db) == []


def test_a_requeued_message_is_shown_again_at_once(tmp_path):
    db = tmp_path / "broker.db"
    with _connection(db, visibility=60) as conn:
        conn.SimpleQueue("q").put({"n": 3})
        _take(conn).requeue()
        assert _rows(db)[0][1] == 1
        again = _take(conn)
        assert again.payload == {"n": 3}
        again.ack()


def test_acknowledgements_from_another_thread_while_polling(tmp_path):
    """Celery acknowledges from its result thread while the consumer polls."""
    db = tmp_path / "broker.db"
    with _connection(db, visibility=60) as conn:
        producer = conn.SimpleQueue("q")
        for n in range(200):
            producer.put({"n": n})
        queue = conn.SimpleQueue("q", no_ack=False)
        taken = [queue.get(timeout=2) for _ in range(200)]
        errors: list[BaseException] = []

        def ack_all() -> None:
            try:
                for m in taken:
                    m.ack()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=ack_all)
        thread.start()
        for n in range(100):
            producer.put({"n": 1000 + n})
            queue.get(timeout=2).ack()
        thread.join()
        assert not errors and _rows(db) == []
