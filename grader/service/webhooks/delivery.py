"""Sending one outbound event: claim, check the URL, sign, POST, record, schedule the retry.

The retry schedule is Standard Webhooks' (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h: about 3 days over 8 attempts), times WEBHOOK_RETRY_SCALE, with +-10 % jitter, and
never sooner than a ``Retry-After`` the endpoint sent. A 2xx ends the delivery; a 410
disables the platform's endpoint (its other events wait, pending, until an admin re-enables
it); anything else is retried until the schedule runs out. Every attempt is recorded.
"""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from ..models import Platform, utcnow
from .models import Delivery, DeliveryAttempt, DeliveryStatus, PlatformSecret, WebhookReceipt
from .signing import sign_headers
from .urls import Allowlist, PostResult, UnsafeURL, check_url, post

log = logging.getLogger(__name__)

# Seconds to wait before attempt n+1 after attempt n failed (index 0: the first attempt).
SCHEDULE: tuple[float, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_RETRY_AFTER = 24 * 3600.0
USER_AGENT = "grader-webhooks/1"


@dataclass(frozen=True)
class DeliverySettings:
    timeout: float
    retry_scale: float
    allowlist: Allowlist
    jitter: float = 0.1
    schedule: tuple[float, ...] = SCHEDULE

    @classmethod
    def from_config(cls, config: dict[str, object]) -> DeliverySettings:
        return cls(
            timeout=float(config["WEBHOOK_TIMEOUT"]),  # type: ignore[arg-type]
            retry_scale=float(config["WEBHOOK_RETRY_SCALE"]),  # type: ignore[arg-type]
            allowlist=Allowlist.parse(str(config.get("WEBHOOK_ALLOWED_HOSTS") or "")),
        )


@dataclass(frozen=True)
class Outcome:
    """What one call did: 'succeeded', 'retry', 'failed', 'disabled' (410), or a reason it
    did nothing ('missing', 'not-due', 'endpoint-disabled'); retry_in is seconds."""

    result: str
    retry_in: float | None = None


def active_secrets(session: Session, platform_id: int, now: datetime | None = None) -> list[str]:
    """The platform's usable secrets, newest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(PlatformSecret.secret)
            .where(
                PlatformSecret.platform_id == platform_id,
                or_(PlatformSecret.expires_at.is_(None), PlatformSecret.expires_at > now),
            )
            .order_by(PlatformSecret.id.desc())
        )
    )


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


def next_delay(settings: DeliverySettings, tries: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt after `tries` failed ones; None when out of attempts."""
    if tries >= len(settings.schedule):
        return None
    base = settings.schedule[tries] * settings.retry_scale
    delay = base * random.uniform(1 - settings.jitter, 1 + settings.jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def attempt(
    session_factory: Callable[[], Session],
    delivery_id: int,
    settings: DeliverySettings,
    *,
    sender: Callable[..., PostResult] = post,
) -> Outcome:
    """Make one delivery attempt if the delivery is due and nobody else is sending it."""
    now = utcnow()
    with session_factory() as session, session.begin():
        lease = now + timedelta(seconds=settings.timeout * 3 + 30)
        claimed = _rowcount(
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == DeliveryStatus.PENDING,
                    or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                    or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
                )
                .values(lease_until=lease)
                .execution_options(synchronize_session=False)
            )
        )
        if claimed != 1:
            exists = session.get(Delivery, delivery_id) is not None
            return Outcome("not-due" if exists else "missing")
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        platform = session.get(Platform, delivery.platform_id)
        assert platform is not None
        if not platform.events_enabled or not platform.events_url:
            delivery.lease_until = None
            return Outcome("endpoint-disabled")
        url = platform.events_url
        secrets = active_secrets(session, platform.id, now)
        webhook_id, body = delivery.webhook_id, delivery.body

    started = utcnow()
    result = _send(url, webhook_id, body, secrets, settings, sender)

    with session_factory() as session, session.begin():
        delivery = session.get(Delivery, delivery_id, with_for_update=True)
        assert delivery is not None
        delivery.attempts += 1
        delivery.tries += 1
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                number=delivery.attempts,
                started_at=started,
                url=url,
                status_code=result.status,
                latency_ms=round(result.latency_ms, 1),
                error=result.error,
                response_excerpt=result.excerpt[:1000] or None,
            )
        )
        delivery.lease_until = None
        delivery.last_status_code = result.status
        delivery.last_error = result.error
        done = utcnow()
        if result.status is not None and 200 <= result.status < 300:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.next_attempt_at = None
            delivery.completed_at = done
            return Outcome("succeeded")
        if result.status == 410:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            delivery.completed_at = done
            delivery.last_error = "410 Gone: the endpoint was disabled"
            platform = session.get(Platform, delivery.platform_id)
            if platform is not None and platform.events_enabled:
                platform.events_enabled = False
                platform.disabled_reason = (
                    f"{url} answered 410 Gone at {done.isoformat()} (delivery {delivery.id})"
                )
                log.warning("platform %s: endpoint disabled after 410", platform.name)
            return Outcome("disabled")
        delay = next_delay(
            settings, delivery.tries, retry_after_seconds(result.headers.get("retry-after"), done)
        )
        if delay is None:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            delivery.completed_at = done
            return Outcome("failed")
        delivery.next_attempt_at = done + timedelta(seconds=delay)
        return Outcome("retry", delay)


def _send(
    url: str,
    webhook_id: str,
    body: str,
    secrets: list[str],
    settings: DeliverySettings,
    sender: Callable[..., PostResult],
) -> PostResult:
    if not secrets:
        return PostResult(None, {}, "", "the platform has no active signing secret", 0.0)
    try:
        target = check_url(url, settings.allowlist)
    except UnsafeURL as exc:
        return PostResult(None, {}, "", f"refused: {exc}", 0.0)
    headers = {
        **sign_headers(secrets, webhook_id, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    return sender(target, body.encode("utf-8"), headers, settings.timeout)


def due_deliveries(session: Session, *, limit: int = 500) -> list[int]:
    """Pending deliveries whose time has come, on enabled endpoints (the sweep's work)."""
    now = utcnow()
    return list(
        session.scalars(
            select(Delivery.id)
            .join(Platform, Platform.id == Delivery.platform_id)
            .where(
                Delivery.status == DeliveryStatus.PENDING,
                or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
                Platform.events_enabled.is_(True),
            )
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
        )
    )


def redeliver(delivery: Delivery) -> None:
    """Start the schedule again for this delivery (same webhook-id, same body)."""
    delivery.status = DeliveryStatus.PENDING
    delivery.tries = 0
    delivery.next_attempt_at = utcnow()
    delivery.completed_at = None
    delivery.lease_until = None


def forget_receipts(session: Session, *, older_than_days: float) -> int:
    """Delete inbound receipts older than the retention period; returns how many."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    result = session.execute(
        delete(WebhookReceipt)
        .where(WebhookReceipt.received_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def _rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE matched (a CursorResult's rowcount)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
