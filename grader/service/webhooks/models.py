"""Tables for course platforms' webhooks: signing secrets, inbound receipts, the outbox.

They share ``Base.metadata`` with grader.service.models, so ``create_all`` and alembic
autogenerate see them once this module is imported (create_app does, via init_app).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..models import Base, utcnow


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PlatformSecret(Base):
    """A ``whsec_`` signing secret. Several can be active at once so a rotation needs no
    downtime: inbound requests verify against any active one, outbound ones carry one
    signature per active secret. Stored as issued (HMAC needs the key itself) and never
    returned by the API after it is created; the admin views show a fingerprint only."""

    __tablename__ = "platform_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: active until rotated; a rotation gives the previous secrets a grace period.
    expires_at: Mapped[datetime | None]


class WebhookReceipt(Base):
    """An accepted inbound webhook, keyed by (platform, webhook-id), so a redelivered
    request gets the first answer and stores nothing. Kept WEBHOOK_RECEIPT_DAYS days."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    webhook_id: Mapped[str] = mapped_column(String(128))
    body_sha256: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (
        UniqueConstraint("platform_id", "webhook_id", name="uq_webhook_receipts_platform_id"),
    )


class Delivery(Base):
    """One outbound event for one platform (the outbox row). Written in the transaction that
    changed the submission; its ``webhook_id`` and ``body`` never change, so every retry is
    the same message (only the timestamp and signature are fresh)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(
            DeliveryStatus,
            name="delivery_status",
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        default=DeliveryStatus.PENDING,
    )
    # attempts: all attempts ever; tries: attempts since the last (re)delivery, which is what
    # the retry schedule counts.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    # Set while one worker is sending, so a duplicate task message cannot send twice at once.
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]

    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        order_by="DeliveryAttempt.number", lazy="selectin", viewonly=True
    )

    __table_args__ = (
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_platform", "platform_id", "id"),
    )


class DeliveryAttempt(Base):
    """One POST to a platform's endpoint: when, to where, what came back, how long it took."""

    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    url: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
