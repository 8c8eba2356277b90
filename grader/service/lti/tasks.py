"""Celery tasks for AGS scores: send one, and the periodic sweep (lost messages, long
retries, used nonces past their tokens' expiry). Short retries ride on a countdown, as
for webhooks."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from ..db import get_db
from ..webhooks.delivery import DeliverySettings
from ..webhooks.tasks import COUNTDOWN_LIMIT
from .delivery import attempt, due_scores
from .launch import forget_nonces

log = logging.getLogger(__name__)


@shared_task(name="grader.lti.send_score", ignore_result=True)
def send_score(score_id: int) -> str:
    db = get_db()
    assert db.sessionmaker is not None
    outcome = attempt(db.sessionmaker, score_id, DeliverySettings.from_config(current_app.config))
    log.info("LTI score %s: %s", score_id, outcome.result)
    if outcome.retry_in is not None and outcome.retry_in <= COUNTDOWN_LIMIT:
        enqueue_score(score_id, countdown=outcome.retry_in)
    return outcome.result


@shared_task(name="grader.lti.sweep", ignore_result=True)
def sweep() -> int:
    with get_db().session_scope() as session:
        ids = due_scores(session)
        forget_nonces(session)
    for score_id in ids:
        enqueue_score(score_id)
    return len(ids)


def enqueue_score(score_id: int, countdown: float | None = None) -> bool:
    """Send send_score(score_id); False (logged) if the broker is unreachable: the row
    stays pending and the sweep sends it later."""
    from ..tasks import send_task

    return send_task(send_score, score_id, countdown=countdown)
