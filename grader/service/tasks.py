"""Celery tasks: thin wrappers that take ids and call the grading path and the operations."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import Task, shared_task
from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .db import get_db
from .grade_task import GradingSettings, grade_submission
from .models import Submission
from .operations import copies, regrades
from .operations.calibrations import calibration_for
from .operations.finished import finish_batch
from .operations.submissions import stuck_submissions

log = logging.getLogger(__name__)


def _settings() -> GradingSettings:
    cfg = current_app.config
    return GradingSettings(
        max_deliveries=cfg["MAX_DELIVERIES"],
        lease_seconds=cfg["GRADING_LEASE"],
        fault_injection=bool(cfg["FAULT_INJECTION"]),
        fault_marker=cfg["FAULT_MARKER"],
    )


@shared_task(name="grader.grade", ignore_result=True, bind=True, max_retries=None)
def grade(self: Task, submission_id: int) -> str:
    db = get_db()
    assert db.engine is not None and db.sessionmaker is not None
    try:
        outcome = grade_submission(db.engine, db.sessionmaker, submission_id, _settings())
    except (OperationalError, InterfaceError, PoolTimeout) as exc:
        # The database is unreachable (restarting, failing over): try again shortly rather
        # than drop the message and leave the submission for STUCK_AFTER.
        delay = min(30, 2 ** min(self.request.retries, 5))
        log.warning("submission %s: database unavailable, retrying in %s s", submission_id, delay)
        raise self.retry(exc=exc, countdown=delay) from exc
    log.info("submission %s: %s", submission_id, outcome)
    return outcome


@shared_task(name="grader.grade_many", ignore_result=True, bind=True, max_retries=None)
def grade_many(self: Task, submission_ids: list[int]) -> int:
    """Grade several submissions in one task (a regrade's batch): one message and one task's
    overhead for many. Each is graded as ``grade`` would (its own claim, lease and store),
    so a batch redelivered after a crash skips what is done. The task has one answer's time
    budget (GRADING_SOFT_LIMIT): once half of it is used, the rest goes on as a new batch,
    so every answer keeps at least half of its own budget."""
    db = get_db()
    assert db.engine is not None and db.sessionmaker is not None
    factory = db.sessionmaker
    settings = _settings()
    started = time.monotonic()
    half = float(current_app.config["GRADING_SOFT_LIMIT"]) / 2
    try:  # first what needs no reading (a rubric change in numbers or words only), at once
        with factory() as session:
            done, submission_ids = finish_batch(
                session, submission_ids, lambda v, r: calibration_for(factory, v, r)
            )
    except (OperationalError, InterfaceError, PoolTimeout) as exc:
        delay = min(30, 2 ** min(self.request.retries, 5))
        log.warning("batch: database unavailable, retrying in %s s", delay)
        raise self.retry(args=[submission_ids], exc=exc, countdown=delay) from exc
    except Exception:  # a bug there must not cost the batch: grade each on its own
        log.exception("finishing a batch from its measurements failed")
        done = 0
    for n, submission_id in enumerate(submission_ids):
        if n and time.monotonic() - started > half:
            if not enqueue_batch(submission_ids[n:]):  # the reconciler finds them later
                log.error("could not send the rest of a batch (%d)", len(submission_ids) - n)
            break
        try:
            grade_submission(db.engine, db.sessionmaker, submission_id, settings)
        except (OperationalError, InterfaceError, PoolTimeout) as exc:
            delay = min(30, 2 ** min(self.request.retries, 5))
            log.warning(
                "batch: database unavailable, retrying %d in %s s", len(submission_ids) - n, delay
            )
            raise self.retry(args=[submission_ids[n:]], exc=exc, countdown=delay) from exc
        done += 1
    log.info("graded a batch of %d", done)
    return done


def enqueue_batch(submission_ids: list[int]) -> bool:
    """Send grade_many(submission_ids); False (logged) if the broker is unreachable (the
    reconciler finds what lacks a grade for the version)."""
    return send_task(grade_many, submission_ids)


@shared_task(name="grader.reconcile", ignore_result=True)
def reconcile() -> int:
    """Re-enqueue submissions stuck in queued or grading (lost message, dead worker), and
    index for copy hints the graded answers whose indexing failed."""
    with get_db().session_scope() as session:
        ids = stuck_submissions(session, stuck_after=current_app.config["STUCK_AFTER"])
    sent = [sid for sid in ids if enqueue_grade(sid)]
    if sent:
        with get_db().session_scope() as session:
            session.execute(
                update(Submission)
                .where(Submission.id.in_(sent), Submission.unsent.is_(True))
                .values(unsent=False)
            )
    if ids:
        log.warning("reconciler re-enqueued %d submissions", len(ids))
    # First grades whose copy indexing failed: indexed now, a batch per run.
    db = get_db()
    assert db.sessionmaker is not None
    tried, indexed = copies.index_missed(
        db.sessionmaker, older_than=timedelta(seconds=current_app.config["STUCK_AFTER"])
    )
    if tried:
        log.warning("reconciler indexed %d of %d unindexed answers for copy hints", indexed, tried)
    return len(ids)


def enqueue_grade(submission_id: int) -> bool:
    """Send grade(submission_id); False (logged) if the broker is unreachable: the row is
    committed as queued and the reconciler will send it later."""
    if send_task(grade, submission_id):
        return True
    log.error("could not enqueue submission %s; the reconciler will retry", submission_id)
    _mark_unsent(submission_id)
    return False


def send_task(task: Task, *args: object, countdown: float | None = None) -> bool:
    """Publish task(*args) (after ``countdown`` seconds), retrying the broker briefly; False
    (logged) if it is unreachable."""
    try:
        task.apply_async(
            args=list(args),
            countdown=countdown,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        )
    except Exception:
        log.exception("could not send %s%r", task.name, args)
        return False
    return True


def _mark_unsent(submission_id: int) -> None:
    """Tell the reconciler to send this one at its next run (not after STUCK_AFTER)."""
    try:
        with get_db().session_scope() as session:
            session.execute(
                update(Submission).where(Submission.id == submission_id).values(unsent=True)
            )
    except Exception:  # the database too: STUCK_AFTER still finds it
        log.warning("could not mark submission %s unsent", submission_id, exc_info=True)


@shared_task(name="grader.job", ignore_result=True)
def job(job_id: int) -> str:
    """Run a regrade's dry run or send a regrade (grader.service.operations.regrades)."""
    with get_db().session_scope() as session:
        outcome = regrades.run(session, job_id, current_app.config["RUBRICS_DIR"], enqueue_batch)
    log.info("job %s: %s", job_id, outcome)
    return outcome


def enqueue_job(job_id: int) -> bool:
    """Send job(job_id); False (logged) if the broker is unreachable."""
    return send_task(job, job_id)
