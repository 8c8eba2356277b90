"""The Redis transport grader configures: kombu's, with one client object per channel."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import RedisServer


def test_redis_broker_reuses_one_client_and_delivers(tmp_path: Path, redis_server: RedisServer):
    from grader.service import create_app
    from grader.service.broker import Transport

    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": "x",
        }
    )
    celery = app.extensions["celery"]
    with celery.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)
        channel = conn.default_channel
        clients = {id(channel._create_client()) for _ in range(3)}
        assert len(clients) == 1
        producer = conn.Producer(serializer="json")
        for i in range(3):
            producer.publish({"n": i}, routing_key="grader-test", declare=[])
        # A new pool (as after a reconnect) gets a new client bound to it.
        before = channel._create_client()
        channel._pool = None
        after = channel._create_client()
        assert after is not before and after.connection_pool is channel.pool
    with celery.connection_for_read() as conn:
        queue = conn.SimpleQueue("grader-test")
        received = [queue.get(timeout=5) for _ in range(3)]
        assert [m.payload["n"] for m in received] == [0, 1, 2]
        for m in received:
            m.ack()
        queue.close()
