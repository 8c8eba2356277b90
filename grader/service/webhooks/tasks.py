"""Celery tasks for outbound webhooks: deliver one event, and the periodic sweep.

Short retries (up to a minute) are scheduled as a countdown on the task itself; longer ones
are left to the sweep, which runs every WEBHOOK_SWEEP_INTERVAL seconds. Hours-long
countdowns would outlive the Redis visibility timeout and be redelivered early.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from ..db import get_db
from .delivery import DeliverySettings, Outcome, attempt, due_deliveries, forget_receipts

log = logging.getLogger(__name__)

COUNTDOWN_LIMIT = 60.0


@shared_task(name="grader.webhooks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str:
    db = get_db()
    assert db.sessionmaker is not None
    outcome: Outcome = attempt(
        db.sessionmaker, delivery_id, DeliverySettings.from_config(current_app.config)
    )
    log.info("webhook delivery %s: %s", delivery_id, outcome.result)
    if outcome.retry_in is not None and outcome.retry_in <= COUNTDOWN_LIMIT:
        enqueue_delivery(delivery_id, countdown=outcome.retry_in)
    return outcome.result


@shared_task(name="grader.webhooks.sweep", ignore_result=True)
def sweep() -> int:
    """Send every due delivery (lost task messages, long retries, re-enabled endpoints) and
    forget inbound webhook ids older than WEBHOOK_RECEIPT_DAYS."""
    with get_db().session_scope() as session:
        ids = due_deliveries(session)
        forgotten = forget_receipts(
            session, older_than_days=float(current_app.config["WEBHOOK_RECEIPT_DAYS"])
        )
    for delivery_id in ids:
        enqueue_delivery(delivery_id)
    if forgotten:
        log.info("forgot %d inbound webhook ids", forgotten)
    return len(ids)


def enqueue_delivery(delivery_id: int, countdown: float | None = None) -> bool:
    """Send deliver(delivery_id); False (logged) if the broker is unreachable: the row stays
    pending and the sweep sends it later."""
    try:
        deliver.apply_async(
            args=[delivery_id],
            countdown=countdown,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        )
    except Exception:
        log.exception("could not enqueue webhook delivery %s; the sweep will", delivery_id)
        return False
    return True
