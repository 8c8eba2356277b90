"""Sending one queued score: claim it, skip it if a newer one for the same learner and
line item is queued (sending it would be refused or overwritten), get a token, find the
line item, POST the score, record every request, and decide what comes next.

5xx, 429 and network errors are retried on the webhooks' schedule (never sooner than a
Retry-After); a 401 drops the cached token and retries with a fresh one; 400, 409, 422
and other 4xx answers are final and shown to instructors (the score was refused, and
resending the same body cannot succeed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..models import utcnow
from ..webhooks.delivery import DeliverySettings, Outcome, retry_after_seconds
from ..webhooks.delivery import next_delay as webhook_delay
from ..webhooks.urls import PostResult
from .ags import (
    LINEITEM_SCOPE,
    MAX_PAGES,
    SCORE_SCOPE,
    TOKENS,
    AGSError,
    Client,
    PlatformEndpoints,
)
from .keys import Signer, signer
from .models import LtiLearner, LtiLink, LtiPlatform, ScoreAttempt, ScorePost, ScoreStatus

log = logging.getLogger(__name__)

FINAL = "final"


def _claim(session: Session, score_id: int, lease: datetime) -> bool:
    now = utcnow()
    result = session.execute(
        update(ScorePost)
        .where(
            ScorePost.id == score_id,
            ScorePost.status == ScoreStatus.PENDING,
            or_(ScorePost.next_attempt_at.is_(None), ScorePost.next_attempt_at <= now),
            or_(ScorePost.lease_until.is_(None), ScorePost.lease_until < now),
        )
        .values(lease_until=lease)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _lease_line_item(session: Session, link_id: int, lease: datetime) -> bool:
    """Take the link's line-item lease (one worker finds or creates the line item)."""
    now = utcnow()
    result = session.execute(
        update(LtiLink)
        .where(
            LtiLink.id == link_id,
            LtiLink.lineitem_url.is_(None),
            or_(LtiLink.lineitem_lease_until.is_(None), LtiLink.lineitem_lease_until < now),
        )
        .values(lineitem_lease_until=lease)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _scopes(ags: dict[str, Any]) -> tuple[str, ...]:
    """One scope set per link (so one cached token serves its line item and its scores):
    score, and lineitem when the platform granted it."""
    granted = set(ags.get("scope") or ())
    return (SCORE_SCOPE, LINEITEM_SCOPE) if LINEITEM_SCOPE in granted else (SCORE_SCOPE,)


@dataclass(frozen=True)
class _Work:
    """What one attempt needs, read in a short transaction before any request."""

    endpoints: PlatformEndpoints
    sign: Signer
    link_id: int
    ags: dict[str, Any]
    lineitem_url: str | None
    body: dict[str, Any]


@dataclass
class _Result:
    last: PostResult | None = None
    error: str | None = None
    final: bool = False
    wait: bool = False  # another worker holds the line-item lease: try again soon
    lineitem_url: str | None = None


# Seconds to wait while another worker finds or creates the link's line item.
LINE_ITEM_WAIT = 2.0


def attempt(
    session_factory: Callable[[], Session], score_id: int, settings: DeliverySettings
) -> Outcome:
    """Make one attempt at sending this score if it is due and nobody else is sending it.
    No database transaction stays open while the platform is asked anything."""
    # Long enough for every request one attempt can make (token, MAX_PAGES pages of line
    # items, a new line item, the score and its one retry), each within the timeout.
    lease = utcnow() + timedelta(seconds=settings.timeout * (MAX_PAGES + 5) + 30)
    with session_factory() as session, session.begin():
        if not _claim(session, score_id, lease):
            exists = session.get(ScorePost, score_id) is not None
            return Outcome("not-due" if exists else "missing")
        post = session.get(ScorePost, score_id)
        assert post is not None
        newer = session.scalar(
            select(ScorePost.id).where(
                ScorePost.learner_id == post.learner_id,
                ScorePost.id > post.id,
                ScorePost.status.in_([ScoreStatus.PENDING, ScoreStatus.SUCCEEDED]),
            )
        )
        if newer is not None:
            post.status = ScoreStatus.SUPERSEDED
            post.completed_at = utcnow()
            post.lease_until = None
            post.last_error = f"score {newer} replaces this one"
            return Outcome("superseded")
        work = _read(session, post, lease)

    records: list[tuple[str, PostResult]] = []
    started = utcnow()
    if isinstance(work, str):
        result = _Result(error=work, final=True)
    else:
        client = Client(
            work.endpoints,
            work.sign,
            settings.allowlist,
            settings.timeout,
            lambda url, res: records.append((url, res)),
        )
        result = _send(client, work)

    with session_factory() as session, session.begin():
        post = session.get(ScorePost, score_id, with_for_update=True)
        assert post is not None
        if not isinstance(work, str) and (result.lineitem_url or not work.lineitem_url):
            # Only the holder of the link's line-item lease writes it (no row lock per score).
            values: dict[str, Any] = {"lineitem_lease_until": None}
            if result.lineitem_url:
                values["lineitem_url"] = result.lineitem_url[:2048]
            session.execute(
                update(LtiLink)
                .where(
                    LtiLink.id == work.link_id,
                    LtiLink.lineitem_lease_until == lease,
                    LtiLink.lineitem_url.is_(None),
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if post.lease_until != lease or post.status != ScoreStatus.PENDING:
            # Our lease ran out and another worker took the score over: its outcome stands.
            log.warning("LTI score %s: lease lost; this attempt's outcome is dropped", post.id)
            return Outcome("lease-lost")
        for url, res in records:
            post.attempts += 1
            session.add(
                ScoreAttempt(
                    score_id=post.id,
                    number=post.attempts,
                    started_at=started,
                    url=url[:2048],
                    status_code=res.status,
                    latency_ms=round(res.latency_ms, 1),
                    error=res.error,
                    response_excerpt=res.excerpt[:1000] or None,
                )
            )
        post.lease_until = None
        done = utcnow()
        if result.wait:
            post.next_attempt_at = done + timedelta(seconds=LINE_ITEM_WAIT)
            return Outcome("retry", LINE_ITEM_WAIT)
        if not records:
            post.attempts += 1
        post.last_status_code = result.last.status if result.last is not None else None
        post.last_error = result.error
        if result.error is None:
            post.status = ScoreStatus.SUCCEEDED
            post.next_attempt_at = None
            post.completed_at = done
            return Outcome("succeeded")
        if result.final:
            post.status = ScoreStatus.FAILED
            post.next_attempt_at = None
            post.completed_at = done
            log.warning("LTI score %s refused: %s", post.id, result.error)
            return Outcome("failed")
        retry_after = retry_after_seconds(
            result.last.headers.get("retry-after") if result.last is not None else None, done
        )
        post.tries += 1
        delay = webhook_delay(settings, post.tries, retry_after)
        if delay is None:
            post.status = ScoreStatus.FAILED
            post.next_attempt_at = None
            post.completed_at = done
            return Outcome("failed")
        post.next_attempt_at = done + timedelta(seconds=delay)
        return Outcome("retry", delay)


def _read(session: Session, post: ScorePost, lease: datetime) -> _Work | str:
    """The attempt's inputs, or why it cannot be made at all (final)."""
    learner = session.get(LtiLearner, post.learner_id)
    link = session.get(LtiLink, learner.link_id) if learner else None
    platform = session.get(LtiPlatform, link.platform_id) if link else None
    if link is None or platform is None:
        return "the LTI link of this score is gone"
    ags = dict(link.ags or {})
    if SCORE_SCOPE not in set(ags.get("scope") or ()):
        return "the platform did not grant the AGS score scope for this link"
    lineitem = link.lineitem_url
    if not lineitem:
        lineitems = ags.get("lineitems")
        if not isinstance(lineitems, str) or LINEITEM_SCOPE not in set(ags.get("scope") or ()):
            return "the launch gave no line item, and no right to make one"
        if not _lease_line_item(session, link.id, lease):
            ags["_wait"] = True  # another worker is finding or creating it now
    return _Work(
        PlatformEndpoints(
            platform.id, platform.client_id, platform.token_url, platform.token_audience
        ),
        signer(session),
        link.id,
        ags,
        lineitem,
        dict(post.body),
    )


def _send(client: Client, work: _Work) -> _Result:
    if work.ags.get("_wait"):
        return _Result(wait=True)
    scopes = _scopes(work.ags)
    found: str | None = None
    try:
        lineitem = work.lineitem_url
        if not lineitem:
            found = lineitem = client.find_or_create_line_item(
                work.ags["lineitems"], work.body["line_item"], scopes
            )
        result = client.post_score(lineitem, work.body["score"], scopes)
        if result.status == 401:
            # The platform no longer takes the cached token: once more with a fresh one.
            TOKENS.drop(client.platform.id)
            result = client.post_score(lineitem, work.body["score"], scopes)
    except AGSError as exc:
        final = _is_final(exc.result)
        if exc.result is not None and exc.result.status == 401:
            TOKENS.drop(client.platform.id)
        return _Result(exc.result, f"{exc}: {_why(exc.result)}", final, lineitem_url=found)
    if result.status is not None and 200 <= result.status < 300:
        return _Result(result, None, lineitem_url=found)
    if result.status == 401:
        TOKENS.drop(client.platform.id)
    return _Result(
        result, f"the score was not accepted: {_why(result)}", _is_final(result), lineitem_url=found
    )


def _is_final(result: PostResult | None) -> bool:
    if result is None or result.status is None:
        return False
    status = result.status
    return 400 <= status < 500 and status not in (401, 408, 429)


def _why(result: PostResult | None) -> str:
    if result is None:
        return "no answer"
    if result.status is None:
        return result.error or "no answer"
    excerpt = " ".join(result.excerpt.split())[:300]
    return f"HTTP {result.status}" + (f": {excerpt}" if excerpt else "")


def due_scores(session: Session, *, limit: int = 500) -> list[int]:
    now = utcnow()
    return list(
        session.scalars(
            select(ScorePost.id)
            .where(
                ScorePost.status == ScoreStatus.PENDING,
                or_(ScorePost.next_attempt_at.is_(None), ScorePost.next_attempt_at <= now),
                or_(ScorePost.lease_until.is_(None), ScorePost.lease_until < now),
            )
            .order_by(ScorePost.next_attempt_at, ScorePost.id)
            .limit(limit)
        )
    )


def test_connection(
    session: Session, platform: LtiPlatform, settings: DeliverySettings
) -> dict[str, Any]:
    """Ask the platform for a score-scoped token: the checks an admin's "test connection"
    makes (the key, the client id, the token URL), with every request's outcome."""
    records: list[dict[str, Any]] = []

    def record(url: str, res: PostResult) -> None:
        records.append(
            {
                "url": url,
                "status_code": res.status,
                "error": res.error,
                "excerpt": res.excerpt[:300],
            }
        )

    TOKENS.drop(platform.id)
    endpoints = PlatformEndpoints(
        platform.id, platform.client_id, platform.token_url, platform.token_audience
    )
    sign = signer(session)
    session.commit()  # the key, if it was just made; no transaction open while asking
    client = Client(endpoints, sign, settings.allowlist, settings.timeout, record)
    try:
        client.token((SCORE_SCOPE,))
    except AGSError as exc:
        return {"ok": False, "message": f"{exc}: {_why(exc.result)}", "requests": records}
    return {"ok": True, "message": "the platform issued an access token", "requests": records}


def resend(session: Session, assignment_id: int, score_id: int) -> ScorePost:
    """Start a failed score's schedule again (after the LMS was fixed); 404 for a score of
    another assignment. The caller commits, then enqueues it if it is pending."""
    from ..errors import not_found
    from ..models import get_row

    post = get_row(session, ScorePost, score_id)
    learner = session.get(LtiLearner, post.learner_id) if post is not None else None
    if post is None or learner is None or learner.assignment_id != assignment_id:
        raise not_found("score")
    if post.status == ScoreStatus.FAILED:
        post.status = ScoreStatus.PENDING
        post.tries = 0
        post.next_attempt_at = utcnow()
        post.completed_at = None
    return post
