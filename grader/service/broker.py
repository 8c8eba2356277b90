"""kombu's Redis transport, minus a client object per operation, and surviving a dead server.

kombu builds a new ``redis.Redis`` for every publish, acknowledgement and unacked-index
update, and redis-py fills a ~170-entry response-callback table in each one: measured here,
about 0.17 ms of the worker's main process per task (of 0.99) and 0.07 ms per submit. The
client holds no connection of its own (those come from the channel's pool), so one per
channel serves; it is rebuilt whenever kombu replaces the pool (after a reconnect).

When redis-server dies while a worker holds unacknowledged messages, kombu restores them as
the channel closes, which needs the server it has just lost; the error ended the worker
("Unrecoverable error", seen with bench/faults.py). The messages are still in Redis' unacked
index, where the visibility-timeout sweep hands them out again, so here the restore is
skipped with a warning and the worker reconnects.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)
        except (RedisError, OSError, AttributeError) as exc:
            # AttributeError: kombu has already dropped the closing channel's connection.
            log.warning(
                "could not restore %d unacknowledged messages (%s): redis-server will hand "
                "them out again after the visibility timeout",
                len(self._delivered),
                type(exc).__name__,
            )
            self._delivered.clear()


class Channel(redis.Channel):
    QoS = QoS

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self.__dict__.get("_sync_client")
        if client is None or client.connection_pool is not self.pool:
            client = self.__dict__["_sync_client"] = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
