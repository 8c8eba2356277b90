"""Taking submissions in: store the learner's next version and supersede the previous one;
and finding those whose grading needs (re-)sending (:func:`stuck_submissions`).

Every submission passes here, so it is written for speed as well as safety. On PostgreSQL
one statement does the whole job (insert, supersede, audit, via data-modifying CTEs); on
SQLite three short Core statements do. Either way the insert skips on a unique key rather
than failing, so a conflict (a repeated Idempotency-Key, a concurrent submission taking the
same version number) is resolved inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from ..errors import APIError
from ..models import Assignment, AuditEvent, Grade, Status, Submission, utcnow
from .assignments import Window, admit
from .events import received

log = logging.getLogger(__name__)
_SUB = cast(Table, Submission.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)
_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class Stored:
    """What a submit stored, or found already stored for a repeated request."""

    id: int
    version: int
    status: Status


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def submit(
    session: Session,
    assignment_id: int,
    learner_id: int,
    content: str,
    *,
    idempotency_key: str | None = None,
    platform_id: int | None = None,
    metadata: dict[str, Any] | None = None,
    window: Window | None = None,
) -> tuple[Stored, bool]:
    """Store a submission as the learner's next version, superseding the previous one.

    Returns (stored, created). With an idempotency key already used for the same request,
    the first submission comes back and nothing is stored; the same key with a different
    request is a 409. Two submissions racing for one version number meet the unique key and
    the loser takes the next number. ``window`` (the assignment's times) refuses an answer
    before the opening or past a due time that takes no late ones, and marks a late one
    (:func:`~grader.service.operations.assignments.admit`); a repeated request that was
    stored in time still gets its answer. The caller commits, then enqueues grading.
    """
    conn = session.connection()
    digest = content_hash(content)
    late = False
    if window is not None:
        try:
            late = admit(window, utcnow())
        except APIError:
            earlier = (
                conn.execute(_BY_KEY, {"l_id": learner_id, "key": idempotency_key}).one_or_none()
                if idempotency_key is not None
                else None
            )
            if earlier is None or (earlier.assignment_id, earlier.content_sha256) != (
                assignment_id,
                digest,
            ):
                raise
            return Stored(earlier.id, earlier.version, Status(earlier.status)), False
    new = _Submission(
        assignment_id, learner_id, content, digest, idempotency_key, platform_id, late
    )
    insert_new = _insert_postgresql if conn.dialect.name == "postgresql" else _insert_generic
    for _ in range(_ATTEMPTS):
        row = insert_new(conn, new, metadata, utcnow())
        if row is not None:
            received(session, row.id, assignment_id, learner_id)
            return Stored(row.id, row.version, Status.QUEUED), True
        if idempotency_key is not None:
            earlier = conn.execute(
                _BY_KEY, {"l_id": learner_id, "key": idempotency_key}
            ).one_or_none()
            if earlier is not None:
                if earlier.assignment_id != assignment_id or earlier.content_sha256 != new.digest:
                    raise APIError(
                        409,
                        "idempotency_conflict",
                        "this Idempotency-Key was already used for a different request",
                        field="Idempotency-Key",
                    )
                return Stored(earlier.id, earlier.version, Status(earlier.status)), False
        # Another submission by this learner took the number (PostgreSQL waited for it to
        # commit), so the next attempt reads the new maximum: k racers lose at most k - 1 times.
    log.error(
        "submission by learner %s to assignment %s met a unique key %d times in a row",
        learner_id,
        assignment_id,
        _ATTEMPTS,
    )
    raise APIError(503, "busy", "too many submissions by this learner at once; try again")


def submit_and_commit(
    session: Session, assignment_id: int, learner_id: int, content: str, **options: Any
) -> tuple[Stored, bool]:
    """:func:`submit`, then commit."""
    result = submit(session, assignment_id, learner_id, content, **options)
    session.commit()
    return result


@dataclass(frozen=True, slots=True)
class _Submission:
    assignment_id: int
    learner_id: int
    content: str
    digest: str
    idempotency_key: str | None
    platform_id: int | None
    late: bool = False


_BY_KEY = select(
    _SUB.c.id, _SUB.c.assignment_id, _SUB.c.content_sha256, _SUB.c.version, _SUB.c.status
).where(_SUB.c.learner_id == bindparam("l_id"), _SUB.c.idempotency_key == bindparam("key"))

# All sub-statements of one PostgreSQL statement see the same snapshot, so "old" cannot see
# the row "new" inserts, and nothing happens past "new" when its insert was skipped. The
# current version is always the latest (every insert supersedes it), so "prev" finds it in
# the unique key's order and "old" updates it by id: one-row lookups whatever plan the server
# caches (matching on assignment and learner let a plan cached while the table was empty
# walk the assignment's every row through its (assignment, status) index).
_SUBMIT_POSTGRESQL = text("""
WITH prev AS (
    SELECT id, version FROM submissions
    WHERE assignment_id = :a_id AND learner_id = :l_id
    ORDER BY assignment_id DESC, learner_id DESC, version DESC
    LIMIT 1
), new AS (
    INSERT INTO submissions (
        assignment_id, learner_id, version, current, content, content_sha256, status,
        deliveries, idempotency_key, platform_id, metadata, reviewed, flags_text, late,
        created_at, updated_at)
    VALUES (
        :a_id, :l_id, coalesce((SELECT version FROM prev), 0) + 1,
        true, :content, :digest, 'queued', 0, :key, :platform_id, CAST(:metadata AS json),
        false, ',', :late, :now, :now)
    ON CONFLICT DO NOTHING
    RETURNING id, version
), old AS (
    UPDATE submissions
    SET current = false, superseded_by_id = (SELECT id FROM new), updated_at = :now
    WHERE id = (SELECT id FROM prev) AND current AND EXISTS (SELECT 1 FROM new)
    RETURNING id
), events AS (
    INSERT INTO audit_events (submission_id, actor_id, action, after, created_at)
    SELECT id, CAST(:l_id AS integer), 'submitted',
           json_build_object('version', version, 'sha256', CAST(:digest AS text),
                             'bytes', CAST(:bytes AS integer)),
           CAST(:now AS timestamptz)
    FROM new
    UNION ALL
    SELECT id, NULL, 'superseded', json_build_object('superseded_by', (SELECT id FROM new)),
           CAST(:now AS timestamptz)
    FROM old
)
SELECT id, version FROM new
""")


def _insert_postgresql(
    conn: Connection, new: _Submission, metadata: dict[str, Any] | None, now: datetime
) -> Any:
    return conn.execute(
        _SUBMIT_POSTGRESQL,
        {
            "a_id": new.assignment_id,
            "l_id": new.learner_id,
            "content": new.content,
            "digest": new.digest,
            "bytes": len(new.content.encode()),
            "key": new.idempotency_key,
            "platform_id": new.platform_id,
            "metadata": json.dumps(metadata),  # JSON null when absent, as the ORM writes
            "late": new.late,
            "now": now,
        },
    ).one_or_none()


_INSERT_GENERIC = (
    sqlite.insert(_SUB)
    .values(
        assignment_id=bindparam("a_id"),
        learner_id=bindparam("l_id"),
        version=select(func.coalesce(func.max(_SUB.c.version), 0) + 1)
        .where(_SUB.c.assignment_id == bindparam("a_id"), _SUB.c.learner_id == bindparam("l_id"))
        .scalar_subquery(),
        status=Status.QUEUED.value,
    )
    .on_conflict_do_nothing()
    .returning(_SUB.c.id, _SUB.c.version)
)
_SUPERSEDE = (
    update(_SUB)
    .where(
        _SUB.c.assignment_id == bindparam("a_id"),
        _SUB.c.learner_id == bindparam("l_id"),
        _SUB.c.version == bindparam("new_version") - 1,
        _SUB.c.current,
    )
    .values(current=False, superseded_by_id=bindparam("new_id"), updated_at=bindparam("now"))
    .returning(_SUB.c.id)
)


def _insert_generic(
    conn: Connection, new: _Submission, metadata: dict[str, Any] | None, now: datetime
) -> Any:
    """SQLite (which has no data-modifying CTEs): insert, supersede, audit."""
    row = conn.execute(
        _INSERT_GENERIC,
        {
            "a_id": new.assignment_id,
            "l_id": new.learner_id,
            "content": new.content,
            "content_sha256": new.digest,
            "idempotency_key": new.idempotency_key,
            "platform_id": new.platform_id,
            "metadata": metadata,
            "late": new.late,
            "created_at": now,
            "updated_at": now,
        },
    ).one_or_none()
    if row is None:
        return None
    old_ids = (
        conn.execute(
            _SUPERSEDE,
            {
                "a_id": new.assignment_id,
                "l_id": new.learner_id,
                "new_id": row.id,
                "new_version": row.version,
                "now": now,
            },
        )
        .scalars()
        .all()
    )
    events = [
        {
            "submission_id": row.id,
            "actor_id": new.learner_id,
            "action": "submitted",
            "after": {
                "version": row.version,
                "sha256": new.digest,
                "bytes": len(new.content.encode()),
            },
            "created_at": now,
        }
    ]
    events += [
        {
            "submission_id": old,
            "actor_id": None,
            "action": "superseded",
            "after": {"superseded_by": row.id},
            "created_at": now,
        }
        for old in old_ids
    ]
    conn.execute(insert(_AUDIT), events)
    return row


def stuck_submissions(session: Session, *, stuck_after: int, limit: int = 500) -> list[int]:
    """Ids that need (re-)enqueuing: queued or grading with no progress, or current grades
    missing for their assignment's rubric version (a lost regrade)."""
    now = utcnow()
    idle = now - timedelta(seconds=stuck_after)
    stale = (
        select(Submission.id)
        .where(
            ((Submission.status == Status.QUEUED) & (Submission.updated_at < idle))
            # Its task never reached the broker: send it now.
            | Submission.unsent.is_(True)
            # A grading's lease is renewed while it runs (grader.service.leases): once it
            # has run out, the process grading it is gone.
            | (
                (Submission.status == Status.GRADING)
                & ((Submission.lease_until.is_(None)) | (Submission.lease_until < now))
            )
        )
        .order_by(Submission.id)
        .limit(limit)
    )
    ids = list(session.scalars(stale))
    missing = (
        select(Submission.id)
        .join(Assignment)
        .where(
            Submission.current,
            Submission.status.in_([Status.GRADED, Status.RELEASED]),
            Submission.updated_at < idle,
            # A released answer whose regrade kept failing waits for the next regrade.
            (Submission.status != Status.RELEASED) | Submission.failure_reason.is_(None),
            ~select(Grade.id)
            .where(
                Grade.submission_id == Submission.id,
                Grade.rubric_version == Assignment.rubric_version,
                Grade.calibration_version == func.coalesce(Assignment.calibration_version, ""),
            )
            .exists(),
        )
        .order_by(Submission.id)
        .limit(limit)
    )
    ids.extend(i for i in session.scalars(missing) if i not in ids)
    if ids:
        # Touch them so the next sweep waits STUCK_AFTER before trying again (a grading's
        # lease too: its new delivery may wait behind a backlog, and its claim renews it).
        session.execute(update(Submission).where(Submission.id.in_(ids)).values(updated_at=now))
        session.execute(
            update(Submission)
            .where(Submission.id.in_(ids), Submission.status == Status.GRADING)
            .values(lease_until=now + timedelta(seconds=stuck_after))
        )
    return ids
