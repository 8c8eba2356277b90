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
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..models import utcnow
from ..webhooks.delivery import DeliverySettings, Outcome, retry_after_seconds
from ..webhooks.delivery import next_delay as webhook_delay
from ..webhooks.urls import PostResult
from .ags import LINEITEM_SCOPE, SCORE_SCOPE, TOKENS, AGSError, Client
from .models import LtiLearner, LtiLink, LtiPlatform, ScoreAttempt, ScorePost, ScoreStatus

log = logging.getLogger(__name__)

FINAL = "final"


def _claim(session: Session, score_id: int, lease_seconds: float) -> bool:
    now = utcnow()
    result = session.execute(
        update(ScorePost)
        .where(
            ScorePost.id == score_id,
            ScorePost.status == ScoreStatus.PENDING,
            or_(ScorePost.next_attempt_at.is_(None), ScorePost.next_attempt_at <= now),
            or_(ScorePost.lease_until.is_(None), ScorePost.lease_until < now),
        )
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _scopes(link: LtiLink) -> tuple[str, ...]:
    """One scope set per link (so one cached token serves its line item and its scores):
    score, and lineitem when the platform granted it."""
    granted = set((link.ags or {}).get("scope") or ())
    return (SCORE_SCOPE, LINEITEM_SCOPE) if LINEITEM_SCOPE in granted else (SCORE_SCOPE,)


def attempt(
    session_factory: Callable[[], Session], score_id: int, settings: DeliverySettings
) -> Outcome:
    """Make one attempt at sending this score if it is due and nobody else is sending it."""
    with session_factory() as session, session.begin():
        if not _claim(session, score_id, settings.timeout * 6 + 30):
            exists = session.get(ScorePost, score_id) is not None
            return Outcome("not-due" if exists else "missing")
        post = session.get(ScorePost, score_id)
        assert post is not None
        newer = session.scalar(
            select(ScorePost.id).where(
                ScorePost.learner_id == post.learner_id, ScorePost.id > post.id
            )
        )
        if newer is not None:
            post.status = ScoreStatus.SUPERSEDED
            post.completed_at = utcnow()
            post.lease_until = None
            post.last_error = f"score {newer} replaces this one"
            return Outcome("superseded")

    records: list[tuple[str, PostResult]] = []
    started = utcnow()
    result: PostResult | None = None
    error: str | None = None
    final = False
    with session_factory() as session, session.begin():
        post = session.get(ScorePost, score_id)
        assert post is not None
        learner = session.get(LtiLearner, post.learner_id)
        link = session.get(LtiLink, learner.link_id) if learner else None
        platform = session.get(LtiPlatform, link.platform_id) if link else None
        if link is None or platform is None:
            error, final = "the LTI link of this score is gone", True
        else:
            client = Client(
                session,
                platform,
                settings.allowlist,
                settings.timeout,
                lambda url, res: records.append((url, res)),
            )
            try:
                result, error, final = _send(client, link, post.body)
            except AGSError as exc:
                result = exc.result
                error = f"{exc}: {_why(exc.result)}"
                final = _is_final(exc.result)
                if exc.result is not None and exc.result.status == 401:
                    TOKENS.drop(platform.id)
                    final = False

    with session_factory() as session, session.begin():
        post = session.get(ScorePost, score_id, with_for_update=True)
        assert post is not None
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
        if not records:
            post.attempts += 1
        post.lease_until = None
        post.last_status_code = result.status if result is not None else None
        post.last_error = error
        done = utcnow()
        if error is None:
            post.status = ScoreStatus.SUCCEEDED
            post.next_attempt_at = None
            post.completed_at = done
            return Outcome("succeeded")
        if final:
            post.status = ScoreStatus.FAILED
            post.next_attempt_at = None
            post.completed_at = done
            log.warning("LTI score %s refused: %s", post.id, error)
            return Outcome("failed")
        retry_after = retry_after_seconds(
            result.headers.get("retry-after") if result is not None else None, done
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


def _send(
    client: Client, link: LtiLink, body: dict[str, Any]
) -> tuple[PostResult | None, str | None, bool]:
    """(last result, error or None, whether the error is final)."""
    scopes = _scopes(link)
    ags = link.ags or {}
    if SCORE_SCOPE not in set(ags.get("scope") or ()):
        return None, "the platform did not grant the AGS score scope for this link", True
    lineitem = link.lineitem_url
    if not lineitem:
        lineitems = ags.get("lineitems")
        if not isinstance(lineitems, str) or LINEITEM_SCOPE not in set(ags.get("scope") or ()):
            return None, "the launch gave no line item, and no right to make one", True
        lineitem = client.find_or_create_line_item(lineitems, body["line_item"], scopes)
        link.lineitem_url = lineitem
    result = client.post_score(lineitem, body["score"], scopes)
    if result.status is not None and 200 <= result.status < 300:
        return result, None, False
    if result.status == 401:
        TOKENS.drop(client.platform.id)
    return result, f"the score was not accepted: {_why(result)}", _is_final(result)


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
    client = Client(session, platform, settings.allowlist, settings.timeout, record)
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
