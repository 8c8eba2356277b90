"""Tables for LTI 1.3: platforms and their deployments, the tool's keys, launch states,
resource links, LTI accounts, and the outbox of scores sent back to the gradebooks (AGS).

They share ``Base.metadata`` with grader.service.models (migration 0028 creates them).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..models import Base, utcnow


class ScoreStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # A newer score for the same learner and line item was queued before this one was sent:
    # sending it would only be refused (Moodle) or overwritten.
    SUPERSEDED = "superseded"


class LtiPlatform(Base):
    """An LMS registration: its issuer and the client id it gave grader, and its endpoints."""

    __tablename__ = "lti_platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    auth_url: Mapped[str] = mapped_column(String(2048))
    token_url: Mapped[str] = mapped_column(String(2048))
    jwks_url: Mapped[str] = mapped_column(String(2048))
    # The `aud` of grader's client assertions when the platform wants something other than
    # its token URL (Moodle and Canvas take the token URL).
    token_audience: Mapped[str | None] = mapped_column(String(2048))
    # grader's instructor role is not scoped to a course, so an LMS Instructor launch makes
    # a grader instructor only once an admin approved the account, unless the admin trusts
    # this platform's instructors outright (one institution's own LMS).
    trust_instructors: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deployments: Mapped[list[LtiDeployment]] = relationship(
        lazy="selectin", order_by="LtiDeployment.id", viewonly=True
    )

    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_issuer"),)


class LtiDeployment(Base):
    __tablename__ = "lti_deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("platform_id", "deployment_id", name="uq_lti_deployments_platform"),
    )


class ToolKey(Base):
    """One of grader's RSA keys. The newest unretired key signs; retired keys stay in the
    JWKS until ``retired_at`` + LTI_KEY_GRACE so assertions signed just before a rotation
    still verify."""

    __tablename__ = "lti_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class UsedNonce(Base):
    """A launch's nonce, stored when the launch is accepted (in its own transaction), so the
    same ``id_token`` cannot launch twice. The login itself stores nothing: its state and
    nonce travel in a signed cookie, so unauthenticated logins cannot fill a table."""

    __tablename__ = "lti_used_nonces"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    nonce: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (UniqueConstraint("platform_id", "nonce", name="uq_lti_used_nonces"),)


class LtiLink(Base):
    """A resource link (a placement of grader in a course) and the assignment it opens,
    with the AGS claim it last launched with."""

    __tablename__ = "lti_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    context_id: Mapped[str | None] = mapped_column(String(255))
    context_title: Mapped[str | None] = mapped_column(String(255))
    # None until an instructor picks (or creates) the assignment at the first launch.
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)
    ags: Mapped[dict[str, Any] | None] = mapped_column()
    # The line item grader posts to: the claim's own, or the one it found or created.
    lineitem_url: Mapped[str | None] = mapped_column(String(2048))
    # Held by the one worker finding or creating the line item, so two first scores sent at
    # once cannot make two gradebook columns.
    lineitem_lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "platform_id", "deployment_id", "resource_link_id", name="uq_lti_links_resource"
        ),
    )


class LtiAccount(Base):
    """The grader account of an LTI user (``sub``) of one platform."""

    __tablename__ = "lti_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # When the LMS last launched them as an Instructor while grader had not approved them
    # as one (the admin's LTI page lists these); None once approved, or never asked.
    staff_requested_at: Mapped[datetime | None]
    # Who asked, as the LMS said at that launch (for the admin to recognise them).
    context_id: Mapped[str | None] = mapped_column(String(255))
    context_title: Mapped[str | None] = mapped_column(String(255))
    requested_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("platform_id", "sub", name="uq_lti_accounts_sub"),)


class LtiLearner(Base):
    """A learner who launched from a link: whose scores go to that link's line item, and
    the last score timestamp sent for them (each must be later: Moodle refuses others)."""

    __tablename__ = "lti_learners"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_links.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sub: Mapped[str] = mapped_column(String(255))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    last_timestamp: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("link_id", "user_id", name="uq_lti_learners_link_user"),
        Index("ix_lti_learners_user_assignment", "user_id", "assignment_id"),
    )


class ScorePost(Base):
    """One score for one learner's line item (the outbox row), written in the transaction
    that received, released or withdrew the grade. Its body (with its timestamp) never
    changes, so every retry is the same score."""

    __tablename__ = "lti_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_learners.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    kind: Mapped[str] = mapped_column(String(16))  # received, released, withdrawn
    body: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[ScoreStatus] = mapped_column(
        Enum(
            ScoreStatus,
            name="lti_score_status",
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        default=ScoreStatus.PENDING,
    )
    # attempts: requests made (token, line item, score); tries: rounds that failed, which
    # the retry schedule counts.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    attempt_log: Mapped[list[ScoreAttempt]] = relationship(
        order_by="ScoreAttempt.number", lazy="selectin", viewonly=True
    )

    __table_args__ = (Index("ix_lti_scores_status_next", "status", "next_attempt_at"),)


class ScoreAttempt(Base):
    """One request made for a score (token, line item or score POST): what came back."""

    __tablename__ = "lti_score_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("lti_scores.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    url: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
