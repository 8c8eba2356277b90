"""Regrades as jobs: a regrade's dry run and its sending, run by the worker, not the web.

A dry run grades every current answer again (minutes for a large assignment) and sending
a regrade enqueues one task per answer; inside a web request either held a web process past
its timeout. The API and the dashboard create a :class:`~grader.service.models.Job`, the
worker runs it (:func:`run`), and both read it back by id (:func:`job_json`).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, undefer

from ..errors import APIError
from ..models import (
    Assignment,
    Grade,
    Job,
    JobStatus,
    RubricVersion,
    Status,
    Submission,
    User,
    get_row,
    utcnow,
)
from . import grades, rubrics
from .exports import safe_cell

log = logging.getLogger(__name__)

PREVIEW = "regrade_preview"
REGRADE = "regrade"
# Grade again with the assignment's new calibration (grader.service.operations.calibrations).
RECALIBRATE = "recalibrate"
KINDS = (PREVIEW, REGRADE, RECALIBRATE)


def current_graded(session: Session, a: Assignment) -> list[int]:
    """Ids of the assignment's current graded or released submissions, in order."""
    return list(
        session.scalars(
            select(Submission.id)
            .where(
                Submission.assignment_id == a.id,
                Submission.current,
                Submission.status.in_([Status.GRADED, Status.RELEASED]),
            )
            .order_by(Submission.id)
        )
    )


def start(
    session: Session,
    a: Assignment,
    actor: User,
    kind: str,
    rubrics_dir: str,
    send: Callable[[int], bool],
    version: str | None = None,
) -> Job:
    """Create a job and send it to the worker. A regrade switches the assignment to the
    rubric file's version, or to the stored ``version`` (a rubric edited in the pages or
    sent to the API, :func:`~grader.service.operations.rubrics.store_source`), here, so new
    answers get it at once; the job sends the tasks. A dry run previews either."""
    if version is not None:
        if session.get(RubricVersion, version) is None:
            raise APIError(404, "not_found", "no such rubric version", field="version")
    elif kind == REGRADE:
        version = rubrics.store_rubric(
            session, rubrics.rubric_path(rubrics_dir, a.rubric_file)
        ).version
    elif kind == RECALIBRATE:
        version = a.rubric_version
    else:
        version = rubrics.read_rubric(rubrics.rubric_path(rubrics_dir, a.rubric_file)).version
    if kind == REGRADE:
        if version != a.rubric_version:
            a.calibration_version = None  # fitted for the old rubric's grades
        a.rubric_version = version
    if kind in (REGRADE, RECALIBRATE):
        # Released answers whose last regrade kept failing are tried again.
        session.execute(
            update(Submission)
            .where(
                Submission.assignment_id == a.id,
                Submission.status == Status.RELEASED,
                Submission.failure_reason.is_not(None),
            )
            .values(failure_reason=None, deliveries=0)
            .execution_options(synchronize_session=False)
        )
    job = Job(kind=kind, assignment_id=a.id, requested_by_id=actor.id, rubric_version=version)
    session.add(job)
    session.commit()
    if not send(job.id):
        job.status = JobStatus.FAILED
        job.error = "the worker could not be reached; try again in a moment"
        job.finished_at = utcnow()
        session.commit()
        if kind == PREVIEW:
            raise APIError(503, "worker_unavailable", job.error, headers={"Retry-After": "5"})
        # A regrade still happens: the reconciler sends what lacks a grade for the version.
    return job


#: Answers one regrade task grades (one message, one task's overhead, for this many).
BATCH = 200


def run(
    session: Session, job_id: int, rubrics_dir: str, enqueue: Callable[[list[int]], bool]
) -> str:
    """Run a job (in the worker); safe to run again: a finished job is left alone. A regrade
    sends its answers in batches of ``BATCH`` (``enqueue`` one batch, False if the broker
    is out: the reconciler sends what lacks a grade for the version later)."""
    job = session.get(Job, job_id)
    if job is None:
        return "missing"
    if job.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED):
        return "already-finished"
    job.status = JobStatus.RUNNING
    session.commit()
    a = session.get(Assignment, job.assignment_id)
    assert a is not None
    try:
        ids = current_graded(session, a)
        if job.kind == PREVIEW:
            result = _preview(session, job, a, ids, rubrics_dir)
            if result is None or _cancelled(session, job.id):
                session.rollback()
                return JobStatus.CANCELLED.value
            job.result = result
        else:
            batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
            sent = sum(len(b) for b in batches if enqueue(b))
            job.result = {"queued": sent, "submissions": len(ids)}
        job.status = JobStatus.DONE
    except APIError as exc:  # the rubric file cannot be used
        session.rollback()
        job.status, job.error = JobStatus.FAILED, exc.message
    except Exception as exc:
        log.exception("job %s failed", job_id)
        session.rollback()
        job.status, job.error = JobStatus.FAILED, f"the job failed ({type(exc).__name__})"
    job.finished_at = utcnow()
    session.commit()
    return job.status.value


#: A dry run records how far it got every this many answers.
PROGRESS_EVERY = 200


def _cancelled(session: Session, job_id: int) -> bool:
    """Whether someone cancelled the job since it started (read from the database)."""
    status = session.scalar(select(Job.status).where(Job.id == job_id))
    return status == JobStatus.CANCELLED


def cancel(session: Session, job: Job, actor: User) -> None:
    """Stop a dry run (it stops at its next progress mark and keeps no result). A regrade
    cannot be taken back this way: the assignment is already on the new version and its
    answers are being sent; regrade again with the old rubric to go back."""
    if job.kind != PREVIEW:
        raise APIError(
            409,
            "not_cancellable",
            "a regrade cannot be cancelled once started: the assignment already uses the new "
            "rubric version; regrade again with the previous rubric to go back",
        )
    if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        raise APIError(409, "not_cancellable", f"the dry run is {job.status.value} already")
    job.status = JobStatus.CANCELLED
    job.error = f"cancelled by {actor.name}"
    job.finished_at = utcnow()


def _preview(
    session: Session, job: Job, a: Assignment, ids: list[int], rubrics_dir: str
) -> dict[str, Any] | None:
    """The dry run's result, or None once it was cancelled."""
    stored = session.get(RubricVersion, job.rubric_version)
    rubric = (
        rubrics.rubric_for(stored)
        if stored is not None
        else rubrics.read_rubric(rubrics.rubric_path(rubrics_dir, a.rubric_file))
    )
    changes = []
    for n, sid in enumerate(ids):
        if n % PROGRESS_EVERY == 0:
            if _cancelled(session, job.id):
                return None
            job.progress = {"done": n, "total": len(ids)}
            session.commit()
        sub = session.get(Submission, sid, options=[undefer(Submission.content)])
        assert sub is not None
        change = grades.regrade_preview(session, sub, rubric)
        if change:
            changes.append(change)
        session.expunge(sub)  # a large assignment must not pile up in the session
    return {
        "rubric_version": rubric.version,
        "current_version": a.rubric_version,
        "submissions": len(ids),
        "changes": changes,
        "unchanged": len(ids) - len(changes),
        "criteria": [[c.id, c.name] for c in rubric.criteria],
    }


def load(session: Session, job_id: int, a: Assignment | None = None) -> Job:
    """A job by id (404 when missing, or not this assignment's)."""
    job = get_row(session, Job, job_id)
    if job is None or (a is not None and job.assignment_id != a.id):
        raise APIError(404, "not_found", "no such job")
    return job


def progress(session: Session, job: Job) -> dict[str, int] | None:
    """How far a job got: a dry run's answers graded so far; a regrade's (or
    recalibration's) current answers graded with its version, of those it sent."""
    if job.kind == PREVIEW:
        if job.status == JobStatus.DONE and job.result is not None:
            total = int(job.result.get("submissions", 0))
            return {"done": total, "total": total}
        return dict(job.progress) if job.progress else None
    if job.status != JobStatus.DONE or job.result is None:
        return None
    a = session.get(Assignment, job.assignment_id)
    assert a is not None
    done = session.scalar(
        select(func.count())
        .select_from(Submission)
        .where(
            Submission.assignment_id == a.id,
            Submission.current,
            select(Grade.id)
            .where(
                Grade.submission_id == Submission.id,
                Grade.rubric_version == job.rubric_version,
            )
            .exists(),
        )
    )
    total = int(job.result.get("submissions", 0))
    return {"done": min(int(done or 0), total), "total": total}


def changes_csv(job: Job, criteria: list[list[str]] | None = None) -> Iterator[str]:
    """A dry run's diff as CSV, line by line: each answer that would change, before and
    after, in total and per criterion."""
    result = job.result or {}
    ids = [cid for cid, _ in (criteria or result.get("criteria", []))]
    out = io.StringIO()
    writer = csv.writer(out)

    def line(row: list[Any]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow([safe_cell(v) for v in row])
        return out.getvalue()

    yield line(
        ["submission", "learner", "status", "before", "after", "change"]
        + [f"{c}_{when}" for c in ids for when in ("before", "after")]
    )
    for ch in result.get("changes", []):
        per = ch.get("criteria", {})
        yield line(
            [ch["id"], ch["learner"], ch["status"], ch["before"], ch["after"], ch["delta"]]
            + [per.get(c, {}).get(when) for c in ids for when in ("before", "after")]
        )


def job_json(job: Job, slug: str, done: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "assignment": slug,
        "status": job.status.value,
        "rubric_version": job.rubric_version,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "result": job.result,
        "error": job.error,
        **({"progress": done} if done is not None else {}),
    }
