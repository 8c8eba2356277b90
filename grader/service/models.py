"""Database models (SQLAlchemy 2.x, typed).

Submissions move queued -> grading -> graded -> released, or to failed. A grade is keyed by
(submission, rubric version), so a redelivered task can never write twice. Overrides and the
audit trail are append-only: the ORM refuses to update or delete them.

Long because: the schema is read as a whole (every table, its keys and indexes beside the
migrations that made them); each model is short.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class Role(enum.StrEnum):
    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    PLATFORM = "platform"
    ADMIN = "admin"


class Status(enum.StrEnum):
    QUEUED = "queued"
    GRADING = "grading"
    GRADED = "graded"
    RELEASED = "released"
    FAILED = "failed"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # A course platform's own id for the learner, unique per platform (see webhooks).
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Copied into each web session; signing out raises it, ending every copy of the cookie.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("platform_id", "external_id", name="uq_users_platform_ext"),)


class SignInFailure(Base):
    """A failed sign-in, by account ("email:<sha256>") and by client ("client:<address>")."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)


class AccountLink(Base):
    """A one-time link to set a password (a new account) or reset it (forgot password): only
    the hash of its token is kept; it works once, until it expires."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "welcome" or "reset"
    # None until the token is made (a mailed link's, by the mail worker as it sends).
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class RubricVersion(Base):
    """A rubric's content as it was: grades point here, so they stay reproducible."""

    __tablename__ = "rubric_versions"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    rubric_id: Mapped[str] = mapped_column(String(64))
    # Tens of KB, needed once per process per version (rubrics.rubric_for caches the parse).
    source: Mapped[str] = mapped_column(Text, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    rubric_file: Mapped[str] = mapped_column(String(255))
    rubric_version: Mapped[str] = mapped_column(ForeignKey("rubric_versions.version"))
    # The calibration new grades use (grader.service.operations.calibrations); None: none.
    calibration_version: Mapped[str | None] = mapped_column(String(32))
    # When answers are taken (None: always) and what happens after the due time: "accept"
    # (and mark late) or "refuse" (grader.service.operations.assignments.admit).
    opens_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    late_policy: Mapped[str] = mapped_column(String(16), default="accept", server_default="accept")
    # Which released version the gradebook counts when a learner has several: "latest" or
    # "best" (the highest released total).
    counted_grade: Mapped[str] = mapped_column(String(8), default="latest", server_default="latest")
    # Only enrolled learners see and answer it (grader.service.operations.enrolments); staff
    # and course platforms (which keep their own rosters) always may.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Blind review (0025): reviewers see no learner names or ids until a grade is released.
    blind_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An embargo: no grade of the assignment is released before this time (None: none).
    release_after: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    rubric: Mapped[RubricVersion] = relationship(lazy="joined")


class Enrolment(Base):
    """A learner in an assignment's course (what counts when the assignment is restricted)."""

    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("assignment_id", "user_id", name="uq_enrolments"),)


class Submission(Base):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    # Loaded only when read: lists, queues and exports never carry the answers' text.
    content: Mapped[str] = mapped_column(Text, deferred=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[Status] = mapped_column(_enum(Status, "status"), default=Status.QUEUED)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    # Its grading task could not be sent (the broker was down): the next reconcile sends it.
    unsent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id"))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claim_expires_at: Mapped[datetime | None]
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The instructor whose share of the review this answer is (0026; None: nobody's).
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The instructor's general comment on the answer, which the learner reads with the
    # released grade (operations.reviews.comment); None: none.
    comment: Mapped[str | None] = mapped_column(Text)
    # Regrade requests not answered yet (grader.service.operations.regrade_requests), so the
    # review queue can filter and flag them in SQL.
    open_requests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Copy hints (CopyHint rows) naming this answer, either side (0023): staff only.
    copy_hints: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Its copy fingerprints are stored (or it has none): a first grade whose indexing
    # failed is indexed again by the reconciler (0032).
    copy_indexed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Sent after the assignment's due time (accepted by its late policy).
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The effective grade's headline figures, copied here so the review queue can filter
    # and sort in SQL; the grades and overrides tables remain the source of truth.
    total: Mapped[float | None] = mapped_column(Float)
    max_total: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    # The effective points per criterion ({criterion id: points}); NULL for grades stored
    # before migration 0010 (read from the grades and overrides then). jsonb on PostgreSQL
    # (0031): the dashboard aggregates each criterion in SQL.
    points: Mapped[dict[str, float] | None] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql")
    )
    # The interval around the total as it stands (migration 0011; None without one).
    interval_low: Mapped[float | None] = mapped_column(Float)
    interval_high: Mapped[float | None] = mapped_column(Float)
    flags_text: Mapped[str] = mapped_column(String(500), default=",")
    review_codes: Mapped[str] = mapped_column(String(500), default=",", server_default=",")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    released_at: Mapped[datetime | None]
    # What the learner was released (0022): the grader's output (a grade id) and the total
    # as it stands for them. A regrade after release stores a newer grade that waits
    # (release_pending) until an instructor releases it; the learner keeps the released one.
    released_grade_id: Mapped[int | None] = mapped_column(Integer)
    released_total: Mapped[float | None] = mapped_column(Float)
    released_max_total: Mapped[float | None] = mapped_column(Float)
    release_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    assignment: Mapped[Assignment] = relationship(lazy="joined")
    learner: Mapped[User] = relationship(foreign_keys=[learner_id], lazy="joined")

    __table_args__ = (
        UniqueConstraint("learner_id", "idempotency_key", name="uq_submissions_idempotency"),
        UniqueConstraint("assignment_id", "learner_id", "version", name="uq_submissions_version"),
        Index("ix_submissions_status_updated", "status", "updated_at"),
        Index("ix_submissions_assignment_status", "assignment_id", "status"),
        # The review queue's filters and sort orders, over current submissions (0009). A
        # query's "current" must read as the predicate does (0030): SQLAlchemy writes
        # where(Submission.current) as "current" on PostgreSQL and "current = 1" on SQLite.
        *(
            Index(name, *cols, postgresql_where=text("current"), sqlite_where=text("current = 1"))
            for name, cols in (
                ("ix_queue_assignment_confidence", ("assignment_id", "status", "confidence", "id")),
                ("ix_queue_assignment_time", ("assignment_id", "status", "created_at", "id")),
                ("ix_queue_assignment_total", ("assignment_id", "status", "total", "id")),
                ("ix_queue_confidence", ("status", "confidence", "id")),
            )
        ),
        # The descending sorts ("ungraded last" is not an ascending index read backwards),
        # PostgreSQL only: SQLite has no NULLS LAST in an index (0033).
        *(
            Index(
                name,
                *cols,
                text(f"{key} DESC NULLS LAST"),
                text("id DESC"),
                postgresql_where=text("current"),
            ).ddl_if(dialect="postgresql")
            for name, cols, key in (
                ("ix_queue_assignment_confidence_desc", ("assignment_id", "status"), "confidence"),
                ("ix_queue_assignment_time_desc", ("assignment_id", "status"), "created_at"),
                ("ix_queue_assignment_total_desc", ("assignment_id", "status"), "total"),
                ("ix_queue_confidence_desc", ("status",), "confidence"),
            )
        ),
        Index("ix_submissions_assignment_reviewer", "assignment_id", "reviewer_id"),
        Index(
            "ix_submissions_unindexed",
            "id",
            postgresql_where=text("NOT copy_indexed"),
            sqlite_where=text("copy_indexed = 0"),
        ),
        Index(
            "ix_submissions_release_pending",
            "assignment_id",
            postgresql_where=text("release_pending = true"),
            sqlite_where=text("release_pending = 1"),
        ),
    )


class Grade(Base):
    """What the grader computed for one submission under one rubric version."""

    __tablename__ = "grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    rubric_version: Mapped[str] = mapped_column(ForeignKey("rubric_versions.version"))
    total: Mapped[float] = mapped_column(Float)
    max_total: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    flags: Mapped[list[Any]] = mapped_column(JSON)
    # Why the grade needs review ({code, message} each; grader.scoring.confidence).
    review_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    criteria: Mapped[list[Any]] = mapped_column(JSON)
    warnings: Mapped[list[Any]] = mapped_column(JSON)
    # The parsed plan, for the review page only.
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    # The answer rendered once with this grade's evidence marked (grader.service.render);
    # deferred, so lists and queues never load it.
    answer_html: Mapped[str | None] = mapped_column(Text, deferred=True)
    answer_anchors: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # What grading read of the answer (grader.scoring.grade): a regrade whose rubric reads
    # answers the same way finishes the grade from it without reading the answer again.
    measured: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # The instructor calibration the grade was computed with ("": none) and the interval
    # around its total ({low, high, level, source}; None without one).
    calibration_version: Mapped[str] = mapped_column(String(32), default="", server_default="")
    interval: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "submission_id",
            "rubric_version",
            "calibration_version",
            name="uq_grades_submission_rubric",
        ),
    )


class CalibrationVersion(Base):
    """A calibration fitted on an assignment's reviewed grades; immutable, named by version
    (grader.scoring.learning.Calibration, stored as its dict)."""

    __tablename__ = "calibrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    version: Mapped[str] = mapped_column(String(32))
    rubric_version: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("assignment_id", "version", name="uq_calibrations_version"),)


class Override(Base):
    """An instructor's points for one criterion; the latest per criterion wins."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    criterion: Mapped[str] = mapped_column(String(64))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    # What the learner is told instead of the automatic feedback (None: a neutral line).
    comment: Mapped[str | None] = mapped_column(Text)
    instructor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegradeRequest(Base):
    """A learner's request to look again at one criterion of a released grade, and the
    instructor's answer; one per criterion and submission version."""

    __tablename__ = "regrade_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    criterion: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # None while open; then "kept" or "changed", with the reply the learner reads.
    outcome: Mapped[str | None] = mapped_column(String(16))
    reply: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("submission_id", "criterion", name="uq_regrade_requests_criterion"),
    )


class Notification(Base):
    """Something a user should know (a grade released, a request answered or arriving): read
    in the app, and mailed when SMTP is configured (grader.service.mail)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # The page it is about, relative to the service's address (e.g. "/submissions/7").
    link: Mapped[str | None] = mapped_column(String(300))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    # A mailed one-time link: the mail worker makes its token as it sends.
    account_link_id: Mapped[int | None] = mapped_column(ForeignKey("account_links.id"))
    read_at: Mapped[datetime | None]
    # Mail: None (not mailed), "pending", "sent" or "failed" (after MAIL_MAX_TRIES).
    email_status: Mapped[str | None] = mapped_column(String(16))
    email_to: Mapped[str | None] = mapped_column(String(320))
    email_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When a pending mail is due (after a failed try: the retry time); while "sending", when
    # the sweep may take it back (a worker died mid-send).
    email_next_at: Mapped[datetime | None]
    email_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_notifications_user_read", "user_id", "read_at", "id"),
        Index("ix_notifications_email_status", "email_status", "email_next_at"),
    )


class AnswerFingerprint(Base):
    """One winnowed run hash of an answer (grader.scoring.overlap): the index that finds
    answers sharing a passage without comparing every pair."""

    __tablename__ = "answer_fingerprints"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    assignment_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_fingerprints_assignment_hash", "assignment_id", "hash"),)


class GroupExclusion(Base):
    """An answer an instructor took out of its answer group: it stands alone from then on
    (grader.service.operations.groups)."""

    __tablename__ = "group_exclusions"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CopyHint(Base):
    """Two answers (or an answer and the rubric's sample answers: ``other_id`` None) that
    share long passages word for word: a hint for instructors, never a penalty."""

    __tablename__ = "copy_hints"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    other_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    shared_words: Mapped[int] = mapped_column(Integer)
    longest: Mapped[int] = mapped_column(Integer)
    share: Mapped[float] = mapped_column(Float)  # of the shorter answer's words
    # The longest passages: [start, end] in the submission's text, then in the other's.
    spans: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankComment(Base):
    """A reusable comment for one criterion of an assignment (its comment bank)."""

    __tablename__ = "bank_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    criterion: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    uses: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("assignment_id", "criterion", "text_sha256", name="uq_bank_comments_text"),
    )


class AuditEvent(Base):
    """Append-only history: who did what to a submission's grade, when, and why."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Platform(Base):
    """A course platform that submits through signed webhooks (see grader.service.webhooks)."""

    __tablename__ = "platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where grader posts events, and which ones (grader.service.operations.events.EVENT_TYPES).
    events_url: Mapped[str | None] = mapped_column(String(2048))
    events: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    # Cleared when the endpoint answers 410 Gone; events wait (pending) until re-enabled.
    events_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    disabled_reason: Mapped[str | None] = mapped_column(String(500))


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # A dry run stopped on request (it writes no grade, so stopping loses nothing).
    CANCELLED = "cancelled"


class Job(Base):
    """Work too heavy for a web request (a regrade's dry run, sending a regrade), run by the
    worker; its result is read back by id (grader.service.operations.regrades)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The rubric version the job works with (a dry run's is the rubric file as it was then).
    rubric_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # While a dry run runs: {"done", "total"} answers graded so far (0027).
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


#: Ids are 32-bit integers: a larger one cannot exist (and no database would bind it).
MAX_ID = 2**31 - 1
_Row = TypeVar("_Row", bound="Base")


def get_row(session: Session, model: type[_Row], ident: int) -> _Row | None:
    """A row by id, or None; out-of-range ids are simply not found."""
    return session.get(model, ident) if 0 < ident <= MAX_ID else None


APPEND_ONLY = (AuditEvent, Override)


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, APPEND_ONLY) and (obj in session.deleted or session.is_modified(obj)):
            raise ValueError(f"{type(obj).__name__} rows are append-only")
