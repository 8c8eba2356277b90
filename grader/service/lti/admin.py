"""Admin API for LTI: register platforms and deployments, rotate grader's key, test a
platform's token endpoint, and watch (and resend) the scores sent to gradebooks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import select

from ..api.body import json_body
from ..auth import STAFF, require
from ..contracts import ADMIN_ONLY, STAFF_ONLY, Reply, operation, parse
from ..contracts import lti as contract
from ..db import get_db
from ..models import Role
from ..operations.assignments import get_assignment
from ..webhooks.delivery import DeliverySettings
from ..webhooks.urls import Allowlist
from .delivery import resend as resend_score
from .delivery import test_connection
from .keys import rotate
from .links import decide_instructor
from .links import instructor_requests as pending_instructors
from .models import LtiLearner, LtiPlatform, ScorePost, ScoreStatus
from .registry import add_platform, get_platform, platform_json
from .tasks import enqueue_score

bp = Blueprint("lti_admin", __name__)


def _public(path: str) -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path


@bp.get("/lti/platforms")
@operation(
    "listLtiPlatforms",
    "List LTI platforms, with grader's own LTI URLs",
    "lti",
    {200: contract.LtiPlatformList},
    errors=(401, 403),
    description=ADMIN_ONLY,
)
@require(Role.ADMIN)
def index() -> dict[str, Any]:
    session = get_db().session
    rows = session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)).all()
    return {
        "items": [platform_json(p) for p in rows],
        "jwks_url": _public("/lti/jwks"),
        "login_url": _public("/lti/login"),
        "launch_url": _public("/lti/launch"),
    }


@bp.post("/lti/platforms")
@operation(
    "createLtiPlatform",
    "Register an LMS, or add deployments to one",
    "lti",
    {
        201: Reply(contract.LtiPlatform, "Registered"),
        200: Reply(contract.LtiPlatform, "Already registered: deployments added, URLs updated"),
    },
    errors=(401, 403, 413, 415, 422),
    body=contract.LtiPlatformCreate,
    description=ADMIN_ONLY,
)
@require(Role.ADMIN)
def create() -> tuple[dict[str, Any], int]:
    session = get_db().session
    req = parse(contract.LtiPlatformCreate, json_body())
    platform, created = add_platform(
        session,
        issuer=req.issuer,
        client_id=req.client_id,
        deployment_ids=req.deployment_ids,
        auth_url=req.auth_url,
        token_url=req.token_url,
        jwks_url=req.jwks_url,
        name=req.name,
        token_audience=req.token_audience,
        trust_instructors=req.trust_instructors,
        allowlist=Allowlist.parse(str(current_app.config.get("WEBHOOK_ALLOWED_HOSTS") or "")),
    )
    session.commit()
    return platform_json(platform), 201 if created else 200


@bp.get("/lti/instructor-requests")
@operation(
    "listLtiInstructorRequests",
    "LMS Instructors waiting to be approved as grader instructors",
    "lti",
    {200: contract.LtiInstructorRequestList},
    errors=(401, 403),
    description=ADMIN_ONLY,
)
@require(Role.ADMIN)
def instructor_requests() -> dict[str, Any]:
    session = get_db().session
    names = {p.id: p.name for p in session.scalars(select(LtiPlatform))}
    return {
        "items": [
            {
                "id": account.id,
                "user_id": user.id,
                "name": user.name,
                "platform": names.get(account.platform_id, ""),
                "sub": account.sub,
                "email": account.requested_email,
                "course": account.context_title,
                "context_id": account.context_id,
                "requested_at": account.staff_requested_at.isoformat()
                if account.staff_requested_at
                else "",
            }
            for account, user in pending_instructors(session)
        ]
    }


@bp.post("/lti/instructor-requests/<int:account_id>")
@operation(
    "decideLtiInstructorRequest",
    "Approve or dismiss an LMS Instructor's request",
    "lti",
    {200: contract.LtiInstructorRequestList},
    errors=(401, 403, 404, 413, 415, 422),
    body=contract.LtiInstructorDecision,
    description=ADMIN_ONLY + " Approved, the account is a grader instructor (every course).",
)
@require(Role.ADMIN)
def decide_instructor_request(account_id: int) -> dict[str, Any]:
    session = get_db().session
    req = parse(contract.LtiInstructorDecision, json_body())
    decide_instructor(session, account_id, approve=req.approve)
    session.commit()
    return instructor_requests()


@bp.post("/lti/platforms/<int:platform_id>/test")
@operation(
    "testLtiPlatform",
    "Test connection: ask the platform for an access token",
    "lti",
    {200: contract.LtiConnection},
    errors=(401, 403, 404),
    description=ADMIN_ONLY + " Checks grader's key, the client id and the token URL.",
)
@require(Role.ADMIN)
def test(platform_id: int) -> dict[str, Any]:
    session = get_db().session
    platform = get_platform(session, platform_id)
    outcome = test_connection(session, platform, DeliverySettings.from_config(current_app.config))
    session.commit()
    return outcome


@bp.post("/lti/keys")
@operation(
    "rotateLtiKey",
    "Rotate grader's LTI signing key",
    "lti",
    {201: Reply(contract.LtiKeyRotated, "The new key's id")},
    errors=(401, 403),
    description=ADMIN_ONLY + " The old key stays in /lti/jwks for LTI_KEY_GRACE seconds.",
)
@require(Role.ADMIN)
def rotate_key() -> tuple[dict[str, Any], int]:
    session = get_db().session
    key = rotate(session)
    session.commit()
    return {"kid": key.kid}, 201


def score_json(post: ScorePost) -> dict[str, Any]:
    return {
        "id": post.id,
        "submission_id": post.submission_id,
        "kind": post.kind,
        "status": post.status.value,
        "attempts": post.attempts,
        "last_status_code": post.last_status_code,
        "last_error": post.last_error,
        "next_attempt_at": post.next_attempt_at.isoformat() if post.next_attempt_at else None,
        "created_at": post.created_at.isoformat(),
        "score": post.body.get("score", {}),
        "attempt_log": [
            {
                "number": a.number,
                "at": a.started_at.isoformat(),
                "url": a.url,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in post.attempt_log
        ],
    }


@bp.get("/assignments/<slug>/lti/scores")
@operation(
    "listLtiScores",
    "Scores sent to LMS gradebooks for this assignment, newest first",
    "lti",
    {200: contract.LtiScoreList},
    errors=(401, 403, 404),
    description=STAFF_ONLY + " Refused scores (400, 409, 422) say what the LMS answered.",
)
@require(*STAFF)
def scores(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    rows = session.scalars(
        select(ScorePost)
        .join(LtiLearner, LtiLearner.id == ScorePost.learner_id)
        .where(LtiLearner.assignment_id == a.id)
        .order_by(ScorePost.id.desc())
        .limit(200)
    ).all()
    return {"items": [score_json(p) for p in rows]}


@bp.post("/assignments/<slug>/lti/scores/<int:score_id>/resend")
@operation(
    "resendLtiScore",
    "Send a failed score again",
    "lti",
    {200: contract.LtiScore},
    errors=(401, 403, 404),
    description=STAFF_ONLY + " For a score refused before the LMS was fixed.",
)
@require(*STAFF)
def resend(slug: str, score_id: int) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    post = resend_score(session, a.id, score_id)
    session.commit()
    if post.status == ScoreStatus.PENDING:
        enqueue_score(post.id)
    return score_json(post)
