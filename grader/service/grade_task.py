"""The grading task's body: claim a submission, grade it, store the grade, idempotently.

This is the service's hottest path (one run per submission, hundreds a second), so the
common case is a few Core statements on one connection: one ``UPDATE ... RETURNING``
claims the submission and reads what grading needs, and the grade is stored by one
statement on PostgreSQL (data-modifying CTEs, in autocommit: one round trip each) or one
short transaction on SQLite. Rare cases (a poison answer, a regrade that must keep
overrides, a platform that must hear of the grade) go through the ORM in operations/grades.py.

Long because: the claim and the store are written out as statements for both databases
(a third of the module), beside the task body's failure paths (poison answers, time
budget, grading errors) and the regrade that finishes grades from stored measurements.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Engine,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from grader.scoring import Grade as ScoredGrade
from grader.scoring import grade_text
from grader.scoring.learning import apply_to

from .leases import RENEWER
from .models import AuditEvent, Grade, RubricVersion, Status, Submission, utcnow
from .operations import copies
from .operations.calibrations import calibration_for
from .operations.events import audit, emit
from .operations.finished import reused_view
from .operations.grades import codes_text, finished_again, grade_values, store_regrade
from .operations.rubrics import parsed, rubric_for
from .render import render_for_grade

log = logging.getLogger(__name__)

_SUB = cast(Table, Submission.__table__)
_GRADE = cast(Table, Grade.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)
_ACTIVE = (Status.QUEUED.value, Status.GRADING.value)
_DONE = (Status.GRADED.value, Status.RELEASED.value)


@dataclass(frozen=True, slots=True)
class GradingSettings:
    max_deliveries: int
    lease_seconds: int
    fault_injection: bool = False
    fault_marker: str = ""


# The lookups a claim needs, written out once as SQL: SQLAlchemy's SQLite compiler drops
# table names inside RETURNING, which would turn "g.submission_id = submissions.id" into
# "submission_id = id" (both resolving to grades).
_RUBRIC_VERSION_SQL = (
    "(SELECT a.rubric_version FROM assignments a WHERE a.id = submissions.assignment_id)"
)
_CALIBRATION_SQL = (
    "(SELECT COALESCE(a.calibration_version, '') FROM assignments a"
    " WHERE a.id = submissions.assignment_id)"
)
# Graded for the assignment's rubric and calibration versions. A released answer is graded
# again too: its new grade waits for release (operations.grades.settle_release).
_GRADED_NOW = literal_column(
    "EXISTS (SELECT 1 FROM grades g WHERE g.submission_id = submissions.id"
    f" AND g.rubric_version = {_RUBRIC_VERSION_SQL}"
    f" AND g.calibration_version = {_CALIBRATION_SQL})",
    Boolean(),
)
_HAD_GRADE = literal_column(
    "EXISTS (SELECT 1 FROM grades g WHERE g.submission_id = submissions.id)", Boolean()
)
_SID = bindparam("sid", type_=Integer())

# What needs grading: anything queued or grading, and a current grade whose assignment's
# rubric changed since (a regrade). Failed, superseded and up-to-date ones are left alone.
_CLAIM = (
    update(_SUB)
    .where(
        _SUB.c.id == _SID,
        or_(
            _SUB.c.status.in_(_ACTIVE),
            and_(
                _SUB.c.current,
                _SUB.c.status.in_(_DONE),
                ~_GRADED_NOW,
                # A released answer whose regrade kept failing waits for the next regrade.
                or_(_SUB.c.status != Status.RELEASED.value, _SUB.c.failure_reason.is_(None)),
            ),
        ),
    )
    .values(
        deliveries=_SUB.c.deliveries + 1,
        status=case(
            (_SUB.c.status == Status.QUEUED.value, Status.GRADING.value), else_=_SUB.c.status
        ),
        lease_until=bindparam("lease_until"),
        updated_at=bindparam("now"),
    )
    .returning(
        _SUB.c.deliveries,
        _SUB.c.content,
        _SUB.c.platform_id,
        _SUB.c.assignment_id,
        _SUB.c.learner_id,
        literal_column(_RUBRIC_VERSION_SQL).label("rubric_version"),
        literal_column(_CALIBRATION_SQL).label("calibration_version"),
        _GRADED_NOW.label("graded"),
        _HAD_GRADE.label("had_grade"),
    )
)
_WHY_NOT = select(_SUB.c.status, _SUB.c.current, _GRADED_NOW.label("graded")).where(
    _SUB.c.id == _SID
)
_SETTLE = (
    update(_SUB)
    .where(_SUB.c.id == _SID, _SUB.c.status.in_(_ACTIVE))
    .values(status=Status.GRADED.value, lease_until=None)
)
_GRADED = (
    update(_SUB)
    .where(_SUB.c.id == _SID)
    .values(
        status=case((_SUB.c.status.in_(_ACTIVE), Status.GRADED.value), else_=_SUB.c.status),
        lease_until=None,
        deliveries=0,
        total=bindparam("total"),
        points=bindparam("points", type_=JSON),
        max_total=bindparam("max_total"),
        confidence=bindparam("confidence"),
        flags_text=bindparam("flags_text"),
        review_codes=bindparam("review_codes"),
        interval_low=bindparam("interval_low"),
        interval_high=bindparam("interval_high"),
        updated_at=bindparam("now"),
    )
)


def grade_submission(
    engine: Engine,
    session_factory: sessionmaker[Session],
    submission_id: int,
    settings: GradingSettings,
) -> str:
    """Grade one submission with its assignment's rubric version; safe to run many times.

    Claim (own transaction): count the delivery and set a lease, so a poison answer that
    kills its worker is seen next time and ends ``failed`` after ``max_deliveries``. Grade
    (pure computation). Store (own transaction): the grade is keyed by (submission, rubric
    version), so a concurrent or repeated run hits the unique key and changes nothing.
    Returns what happened, for the log.
    """
    with engine.connect() as conn:  # one connection (and one pool checkout) for the task
        if conn.dialect.name == "postgresql":
            # Every statement below is atomic on its own: autocommit saves BEGIN and COMMIT.
            conn.execution_options(isolation_level="AUTOCOMMIT")
        claimed = _claim(conn, submission_id, settings)
        if isinstance(claimed, str):
            return claimed
        with RENEWER.hold(engine, submission_id, settings.lease_seconds):
            outcome = _score(session_factory, submission_id, claimed, settings)
            if isinstance(outcome, str):
                return outcome
            scored, view = outcome
            if view is None:
                view = _render(submission_id, claimed.content, scored)
        if not claimed.had_grade and claimed.platform_id is None:
            outcome = _store_first_grade(conn, submission_id, claimed.rubric_version, scored, view)
            answer = _answer(submission_id, claimed)
            copies.after_grading(session_factory, submission_id, outcome, answer)
            return outcome
    with session_factory() as session:
        outcome = store_regrade(session, submission_id, claimed.rubric_version, scored, view)
    if not claimed.had_grade:
        answer = _answer(submission_id, claimed)
        copies.after_grading(session_factory, submission_id, outcome, answer)
    return outcome


def _answer(submission_id: int, claimed: Any) -> copies.Answer:
    """The claimed row as copy indexing reads it (one statement fewer)."""
    return copies.Answer(
        submission_id,
        claimed.assignment_id,
        claimed.learner_id,
        claimed.content,
        claimed.rubric_version,
    )


def _render(submission_id: int, content: str, scored: ScoredGrade) -> dict[str, Any] | None:
    """The answer rendered for the pages, stored with the grade; if rendering fails the grade
    still stands and the page renders it on first view instead."""
    try:
        return render_for_grade(content, [c.to_dict() for c in scored.criteria])
    except Exception:
        log.exception(
            "rendering submission %s failed; it will be rendered when shown", submission_id
        )
        return None


def _score(
    session_factory: sessionmaker[Session],
    submission_id: int,
    claimed: Any,
    settings: GradingSettings,
) -> tuple[ScoredGrade, dict[str, Any] | None] | str:
    """The grade of a claimed submission and, when it was finished from the last grade's
    measurement with the same evidence, that grade's rendered answer; or the outcome when
    it ends failed instead."""
    if claimed.deliveries > settings.max_deliveries:
        with session_factory() as session, session.begin():
            _fail(
                session,
                submission_id,
                f"grading was attempted {settings.max_deliveries} times and "
                "never finished (the worker crashed or was killed)",
                any_status=True,
            )
        return "failed"
    if (
        settings.fault_injection
        and settings.fault_marker
        and settings.fault_marker in claimed.content
    ):
        log.error("fault injection: killing worker %s on submission %s", os.getpid(), submission_id)
        os._exit(70)
    rubric = parsed(claimed.rubric_version)
    if rubric is None:
        with session_factory() as session:
            stored = session.get(RubricVersion, claimed.rubric_version)
            assert stored is not None
            rubric = rubric_for(stored)
    try:
        view = None
        again = None
        if claimed.had_grade:  # a regrade: perhaps only the rubric's numbers or words changed
            with session_factory() as session:
                again = finished_again(session, submission_id, rubric)
                if again is not None:
                    scored, previous = again
                    view = reused_view(
                        previous.criteria,
                        previous.answer_html,
                        previous.answer_anchors,
                        [c.to_dict() for c in scored.criteria],
                    )
        scored = again[0] if again is not None else grade_text(claimed.content, rubric)
        calibration = calibration_for(session_factory, claimed.calibration_version, rubric)
        return (apply_to(scored, calibration) if calibration is not None else scored), view
    except SoftTimeLimitExceeded:
        log.error("grading submission %s ran past its time budget", submission_id)
        with session_factory() as session, session.begin():
            _fail(
                session,
                submission_id,
                "grading ran past its time budget (GRADING_SOFT_LIMIT); "
                "an instructor can grade this answer by hand",
                any_status=False,
            )
        return "timed-out"
    except Exception as exc:  # a bug in grading must not leave the submission stuck
        log.exception("grading submission %s failed", submission_id)
        with session_factory() as session, session.begin():
            reason = f"grading raised {type(exc).__name__}: {exc}"[:2000]
            _fail(session, submission_id, reason, any_status=False)
        return "error"


def _claim(conn: Connection, submission_id: int, settings: GradingSettings) -> Any:
    """The claimed row (deliveries, content, platform_id, assignment_id, learner_id,
    rubric_version, calibration_version, graded, had_grade), or why there is nothing to
    grade."""
    now = utcnow()
    with conn.begin():
        row = conn.execute(
            _CLAIM,
            {
                "sid": submission_id,
                "lease_until": now + timedelta(seconds=settings.lease_seconds),
                "now": now,
            },
        ).one_or_none()
        if row is None:
            why = conn.execute(_WHY_NOT, {"sid": submission_id}).one_or_none()
            if why is None:
                return "missing"
            if why.status == Status.FAILED:
                return "failed-earlier"
            return "already-graded" if why.graded else "superseded"
        if row.graded:  # graded, yet still marked active: settle the status
            conn.execute(_SETTLE, {"sid": submission_id})
            return "already-graded"
    return row


def _fail(session: Session, submission_id: int, reason: str, *, any_status: bool) -> None:
    """Mark the submission failed: any_status for one that keeps killing its worker (even a
    graded one being regraded), else only one still queued or grading."""
    sub = session.get(Submission, submission_id, with_for_update={"of": Submission})
    if sub is None or not (any_status or sub.status in (Status.QUEUED, Status.GRADING)):
        return
    if sub.status == Status.RELEASED:
        # A regrade after release that never finishes: the learner keeps the released
        # grade; staff read why in the history, and the next regrade tries again.
        sub.failure_reason = reason
        sub.lease_until = None
        audit(session, sub, "regrade_failed", reason=reason)
        return
    sub.status = Status.FAILED
    sub.failure_reason = reason
    sub.lease_until = None
    audit(session, sub, "failed", reason=reason)
    emit(session, "submission.failed", sub)


def _store_first_grade(
    conn: Connection,
    submission_id: int,
    version: str,
    scored: ScoredGrade,
    view: dict[str, Any] | None = None,
) -> str:
    """A submission's first grade, no platform to tell: insert, update, audit.

    With no earlier grade there are no overrides, so the effective grade is the grader's.
    """
    now = utcnow()
    values = grade_values(submission_id, version, scored, view)
    values["created_at"] = now
    submission = {
        "sid": submission_id,
        "total": scored.total,
        "points": {c.id: c.points for c in scored.criteria},
        "max_total": scored.max_total,
        "confidence": scored.confidence,
        "flags_text": codes_text(scored.flags),
        "review_codes": codes_text(r["code"] for r in scored.review_reasons),
        "interval_low": scored.interval["low"] if scored.interval else None,
        "interval_high": scored.interval["high"] if scored.interval else None,
        "now": now,
    }
    audit_row = {
        "submission_id": submission_id,
        "action": "graded",
        "after": {
            "total": scored.total,
            "rubric_version": version,
            "criteria": {c.id: c.points for c in scored.criteria},
        },
        "reason": f"rubric version {version}",
        "created_at": now,
    }
    if conn.dialect.name == "postgresql":
        params = {**values, **submission, **audit_row}
        for key in ("flags", "review_reasons", "criteria", "warnings", "plan", "after", "points"):
            params[key] = json.dumps(params[key])
        for key in ("answer_anchors", "measured", "interval"):
            params[key] = None if params[key] is None else json.dumps(params[key])
        stored = conn.execute(_STORE_POSTGRESQL, params).scalar_one()
        return "graded" if stored else "already-graded"
    try:
        with conn.begin():
            conn.execute(insert(_GRADE), values)
            conn.execute(_GRADED, submission)
            conn.execute(insert(_AUDIT), audit_row)
    except IntegrityError:
        return "already-graded"
    return "graded"


# The three writes as one statement (run in autocommit: one round trip, atomic). When the
# grade exists already the insert is skipped and so is everything that depends on it.
_STORE_POSTGRESQL = text("""
WITH g AS (
    INSERT INTO grades (
        submission_id, rubric_version, total, max_total, confidence, flags, review_reasons,
        criteria, warnings, plan, answer_html, answer_anchors, measured, calibration_version,
        interval, created_at)
    VALUES (
        :submission_id, :rubric_version, :total, :max_total, :confidence,
        CAST(:flags AS json), CAST(:review_reasons AS json), CAST(:criteria AS json),
        CAST(:warnings AS json), CAST(:plan AS json), CAST(:answer_html AS text),
        CAST(:answer_anchors AS json), CAST(:measured AS json), :calibration_version,
        CAST(:interval AS json), :created_at)
    ON CONFLICT DO NOTHING
    RETURNING submission_id
), s AS (
    UPDATE submissions
    SET status = CASE WHEN status IN ('queued', 'grading') THEN 'graded' ELSE status END,
        lease_until = NULL, deliveries = 0, total = :total, points = CAST(:points AS json),
        max_total = :max_total,
        confidence = :confidence, flags_text = :flags_text, review_codes = :review_codes,
        interval_low = CAST(:interval_low AS double precision),
        interval_high = CAST(:interval_high AS double precision), updated_at = :now
    WHERE id = (SELECT submission_id FROM g)
), a AS (
    INSERT INTO audit_events (submission_id, action, after, reason, created_at)
    SELECT submission_id, 'graded', CAST(:after AS json), CAST(:reason AS text),
           CAST(:now AS timestamptz)
    FROM g
)
SELECT count(*) FROM g
""")
