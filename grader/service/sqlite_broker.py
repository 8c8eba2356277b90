"""The embedded broker: kombu's SQLAlchemy transport on SQLite, with Redis' guarantees.

kombu's own SQLAlchemy transport marks a message invisible when it hands it out and keeps
the only record of it in the consuming process's memory: a worker killed with -9 loses every
message it held, acknowledged rows are never deleted, and SQLite connections opened before
Celery forks its pool are shared by the children. This transport keeps kombu's tables and
URL (``sqla+sqlite:///...`` is mapped to it) and changes what makes the default fragile:

- a message handed out keeps its row, stamped with when it was taken; the row is deleted on
  acknowledgement, made visible again on a requeue or at shutdown, and made visible again
  by any consumer once it has been invisible for ``visibility_timeout`` seconds (the consumer
  died), as Redis' unacked index does;
- the database runs in WAL mode with a 30 s busy timeout, so a web process publishing while
  the worker polls waits for the lock instead of failing;
- every operation is one atomic statement on a pooled connection in autocommit, so the
  acknowledgements Celery sends from its result thread never share a session with the
  consumer's poll, a failed statement leaves nothing half done, and connections are never
  carried across a fork.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta
from json import dumps, loads
from queue import Empty
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, virtual
from kombu.transport import sqlalchemy as sqla
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import create_engine, event, text

ALIAS = "grader-sqlite"
TRANSPORT_ALIASES[ALIAS] = "grader.service.sqlite_broker:Transport"
_RESTORE_EVERY = 1.0  # seconds between sweeps for messages whose consumer died
# kombu sleeps the polling interval whenever a poll finds nothing to take, also when the
# worker's prefetch is full, which capped the embedded default at 2 messages per interval
# (10/s at 0.2 s). It now polls every 20 ms, and an empty queue is asked again only after
# _IDLE_POLL, so an idle worker costs five small queries a second.
_POLLING_INTERVAL = 0.02
_IDLE_POLL = 0.2


def _stamp(moment: datetime) -> str:
    # The text form SQLAlchemy's DateTime uses on SQLite, so stamps compare as strings.
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def broker_url(url: str) -> str:
    """kombu's ``sqla+sqlite://`` URL as this transport's (other URLs unchanged)."""
    return ALIAS + url.removeprefix("sqla") if url.startswith("sqla+sqlite:") else url


class QoS(virtual.QoS):
    """Acknowledge by deleting the message's row; requeue and restore by showing it again."""

    channel: Channel

    def ack(self, delivery_tag: str) -> None:
        self.channel.settle(delivery_tag, requeue=False)
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self.channel.settle(delivery_tag, requeue=requeue)
        self._quick_ack(delivery_tag)

    def restore_unacked(self) -> list[tuple[BaseException, Any]]:
        self._flush()
        errors: list[tuple[BaseException, Any]] = []
        while self._delivered:
            tag, message = self._delivered.popitem()
            try:
                self.channel.settle(tag, requeue=True)
            except Exception as exc:  # kombu logs these and dumps the messages
                errors.append((exc, message))
        return errors


class Channel(sqla.Channel):
    QoS = QoS
    _engines: dict[str, Any] = {}  # not shared with kombu's own transport

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        options = connection.client.transport_options
        self.visibility_timeout = float(options.get("visibility_timeout", 300))
        # Acknowledgements arrive on Celery's result thread while the consumer polls: every
        # operation here is one statement on a connection of its own (autocommit), and the
        # bookkeeping below is guarded by a lock.
        self._lock = threading.RLock()
        self._rows: dict[str, int] = {}  # delivery tag -> message row, for what we hold
        self._queues: dict[str, int] = {}
        self._swept = 0.0
        self._idle_until: dict[str, float] = {}  # queue -> when to ask it again
        super().__init__(connection, **kwargs)

    def _engine_from_config(self) -> Any:
        engine = create_engine(
            self.connection.client.hostname,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": 30, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi: Any, _record: Any) -> None:
            cursor = dbapi.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine

    def _run(self, statement: Any, **params: Any) -> Any:
        engine, _ = self._open()
        with engine.connect() as conn:
            result = conn.execute(statement, params)
            return result.all() if result.returns_rows else result.rowcount

    def _queue_id(self, queue: str) -> int:
        with self._lock:
            if queue not in self._queues:
                self._run(_QUEUE_ADD, name=queue)
                self._queues[queue] = int(self._run(_QUEUE_ID, name=queue)[0][0])
            return self._queues[queue]

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        self._queue_id(queue)

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._run(
            _PUT, queue=self._queue_id(queue), payload=dumps(payload), now=_stamp(datetime.now())
        )

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        if time.monotonic() < self._idle_until.get(queue, 0.0):
            raise Empty()  # found empty a moment ago
        qid = self._queue_id(queue)
        now = datetime.now()  # naive local time, as kombu stamps its rows
        if time.monotonic() - self._swept >= _RESTORE_EVERY:
            self._swept = time.monotonic()
            cutoff = now - timedelta(seconds=self.visibility_timeout)
            self._run(_RESTORE, queue=qid, cutoff=_stamp(cutoff))
        rows = self._run(_TAKE, queue=qid, now=_stamp(now))
        if not rows:
            self._idle_until[queue] = time.monotonic() + _IDLE_POLL
            raise Empty()
        row, body = rows[0]
        payload = loads(bytes_to_str(body))
        with self._lock:
            self._rows[payload["properties"]["delivery_tag"]] = row
        return payload

    def settle(self, delivery_tag: str, *, requeue: bool) -> None:
        """Delete the row of a message we were given (acknowledged), or show it again."""
        with self._lock:
            row = self._rows.pop(delivery_tag, None)
        if row is not None:
            self._run(_SHOW if requeue else _DELETE, row=row)

    def _size(self, queue: str) -> int:
        rows = self._run(_SIZE, queue=self._queue_id(queue))
        return int(rows[0][0])

    def _purge(self, queue: str) -> int:
        return int(self._run(_PURGE, queue=self._queue_id(queue)))


# One statement each: atomic on SQLite, which takes the write lock for the whole statement.
# (Core SQL on kombu's tables: its ORM models use a loader SQLAlchemy 2.1 deprecates.)
_QUEUE_ADD = text("INSERT INTO kombu_queue (name) VALUES (:name) ON CONFLICT (name) DO NOTHING")
_QUEUE_ID = text("SELECT id FROM kombu_queue WHERE name = :name")
_PUT = text(
    "INSERT INTO kombu_message (queue_id, payload, visible, timestamp, version)"
    " VALUES (:queue, :payload, 1, :now, 1)"
)
_TAKE = text(
    "UPDATE kombu_message SET visible = 0, timestamp = :now, version = version + 1"
    " WHERE id = (SELECT id FROM kombu_message WHERE queue_id = :queue AND visible = 1"
    " ORDER BY id LIMIT 1) RETURNING id, payload"
)
_RESTORE = text(
    "UPDATE kombu_message SET visible = 1"
    " WHERE queue_id = :queue AND visible = 0 AND timestamp < :cutoff"
)
_SHOW = text("UPDATE kombu_message SET visible = 1 WHERE id = :row")
_DELETE = text("DELETE FROM kombu_message WHERE id = :row")
_PURGE = text("DELETE FROM kombu_message WHERE queue_id = :queue")
_SIZE = text("SELECT count(*) FROM kombu_message WHERE queue_id = :queue AND visible = 1")


class Transport(sqla.Transport):
    Channel = Channel
    polling_interval = _POLLING_INTERVAL


def _forget_engines() -> None:
    # A forked child must open its own connections (SQLite's must never cross a fork).
    for engine, _ in Channel._engines.values():
        engine.dispose(close=False)
    Channel._engines.clear()


os.register_at_fork(after_in_child=_forget_engines)
