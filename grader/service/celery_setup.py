"""Celery, configured from the Flask app's settings, with tasks that run in its app context.

Delivery settings are deliberate (see README, "Delivery guarantees"):
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after
  its task finishes, and requeued if the process running it dies (measured here: killing a
  pool child lost 5 of 5 in-flight tasks with defaults, 0 with both settings);
- ``worker_prefetch_multiplier = 1``: a worker holds at most one unacknowledged message per
  process, so a dying worker strands as few as possible;
- Redis ``visibility_timeout`` of minutes (not the 1 h default) so a message held by a
  worker that vanished is redelivered soon, with kombu's unacked-restore sweep run every
  ``RESTORE_INTERVAL`` seconds (throttle 1) to match;
- a beat schedule runs the reconciler, which re-enqueues anything the broker lost.

With plain Redis the transport is kombu's own with one client object per channel
(grader.service.broker), which takes a sixth off the worker's per-task overhead;
``rediss://`` keeps kombu's transport, which sets TLS up from the scheme. The embedded
default (``sqla+sqlite://``) runs on grader.service.sqlite_broker, which gives SQLite the
same visibility-timeout redelivery.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

from .sqlite_broker import ALIAS, broker_url


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    cfg = app.config
    broker = broker_url(cfg["BROKER_URL"])
    transport: dict[str, Any] = {}
    transport_class = None
    if broker.startswith(("redis://", "rediss://")):
        # kombu turns TLS on from the rediss:// scheme, which a named transport would hide.
        transport_class = "grader.service.broker:Transport" if broker.startswith("redis:") else None
        transport = {
            "visibility_timeout": cfg["VISIBILITY_TIMEOUT"],
            "unacked_restore_interval": cfg["RESTORE_INTERVAL"],
            "unacked_restore_throttle": 1,
        }
    elif broker.startswith(ALIAS + "+"):
        # The embedded default (grader.service.sqlite_broker): same redelivery rule as Redis.
        transport = {"visibility_timeout": cfg["VISIBILITY_TIMEOUT"]}
    celery.conf.update(
        broker_url=broker,
        broker_transport=transport_class,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        # Every grading has a time budget: past the soft limit the task ends the submission
        # failed with a clear reason (an instructor can grade it by hand); the hard limit
        # kills a child that ignores it. Both stay below the visibility timeout, so a long
        # grading is never handed to a second worker while the first still runs.
        task_annotations={
            name: {
                "soft_time_limit": float(cfg["GRADING_SOFT_LIMIT"]),
                "time_limit": float(cfg["GRADING_HARD_LIMIT"]),
            }
            for name in ("grader.grade", "grader.grade_many")
        },
        beat_schedule={
            "reconcile": {"task": "grader.reconcile", "schedule": float(cfg["RECONCILE_INTERVAL"])},
            "webhook-sweep": {
                "task": "grader.webhooks.sweep",
                "schedule": float(cfg["WEBHOOK_SWEEP_INTERVAL"]),
            },
            "mail-sweep": {
                "task": "grader.mail.sweep",
                "schedule": float(cfg["MAIL_SWEEP_INTERVAL"]),
            },
            "lti-sweep": {
                "task": "grader.lti.sweep",
                "schedule": float(cfg["WEBHOOK_SWEEP_INTERVAL"]),
            },
        },
        imports=(
            "grader.service.tasks",
            "grader.service.webhooks.tasks",
            "grader.service.mail",
            "grader.service.lti.tasks",
        ),
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
