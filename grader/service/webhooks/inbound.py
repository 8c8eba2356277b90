"""Inbound: a platform submits a learner's answer with a signed webhook.

Order matters: find the platform, read at most the size limit, verify the signature (so
nothing below is reachable without the secret), answer a repeated webhook-id from its
receipt, then validate the payload, map the learner and store the submission and the
receipt in one transaction. Any rejection stores nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..answers import AnswerError, clean_answer
from ..api.body import json_object, read_body
from ..contracts import Reply, WebhookSubmission, operation, parse
from ..contracts import responses as out
from ..db import get_db
from ..errors import APIError
from ..models import Assignment, Platform, Role, User
from ..operations import submissions
from ..operations.assignments import Window
from ..tasks import enqueue_grade
from .delivery import active_secrets
from .models import WebhookReceipt
from .signing import verify

bp = Blueprint("webhooks_inbound", __name__)

JSON_ROOM = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024
_ATTEMPTS = 5


def body_limit() -> int:
    """Raw body limit: the content limit, room for JSON escaping (ensure_ascii triples
    non-ASCII text) and the other fields."""
    return 3 * int(current_app.config["MAX_SUBMISSION_BYTES"]) + JSON_ROOM


def _platform(name: str) -> Platform:
    platform = get_db().session.scalar(select(Platform).where(Platform.name == name))
    if platform is None:
        raise APIError(404, "unknown_platform", f"no platform named {name!r} is registered")
    return platform


def _replay(session: Session, platform: Platform, webhook_id: str, digest: str) -> Any:
    receipt = session.scalar(
        select(WebhookReceipt).where(
            WebhookReceipt.platform_id == platform.id, WebhookReceipt.webhook_id == webhook_id
        )
    )
    if receipt is None:
        return None
    if receipt.body_sha256 != digest:
        raise APIError(
            409,
            "webhook_id_reused",
            "this webhook-id was already used for a different body",
            field="webhook-id",
        )
    return receipt.response, receipt.status_code, {"Location": receipt.response.get("url", "")}


def _payload(raw: bytes) -> dict[str, Any]:
    data = json_object(raw)
    try:  # "\ud800" escapes decode to text no database can store
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise APIError(
            422, "invalid_json", "the body contains an unpaired surrogate escape", field="body"
        ) from exc
    body = parse(WebhookSubmission, data)
    data = body.model_dump(exclude_unset=True)
    content = body.content
    try:
        data["content"] = content = clean_answer(content)
    except AnswerError as exc:
        # The webhook contract names every payload problem invalid_<field>.
        raise APIError(422, "invalid_content", exc.message, field="content") from None
    limit = int(current_app.config["MAX_SUBMISSION_BYTES"])
    size = len(content.encode("utf-8"))
    if size > limit:
        raise APIError(
            413,
            "payload_too_large",
            f"the answer is {size} bytes; the limit is {limit} bytes",
            field="content",
        )
    metadata = body.metadata
    if metadata is not None:
        if len(json.dumps(metadata, ensure_ascii=False).encode("utf-8")) > (MAX_METADATA_BYTES):
            raise APIError(
                422,
                "invalid_metadata",
                f"'metadata' is limited to {MAX_METADATA_BYTES} bytes of JSON",
                field="metadata",
            )
    return data


def _learner(session: Session, platform: Platform, external_id: str, name: str | None) -> User:
    """The platform's learner, created on first sight (ids are per platform)."""
    query = select(User).where(User.platform_id == platform.id, User.external_id == external_id)
    user = session.scalar(query)
    if user is None:
        try:
            with session.begin_nested():
                user = User(
                    name=(name or f"{platform.name} learner {external_id}").strip()[:200],
                    role=Role.LEARNER,
                    platform_id=platform.id,
                    external_id=external_id,
                )
                session.add(user)
        except IntegrityError:  # created by a concurrent request just now
            user = session.scalar(query)
            assert user is not None
    if user.role != Role.LEARNER:
        raise APIError(
            422, "invalid_learner_id", "this learner id is not a learner", field="learner_id"
        )
    if not user.active:
        raise APIError(403, "learner_inactive", "this learner has been deactivated")
    return user


def _store(
    session: Session, platform: Platform, data: dict[str, Any], webhook_id: str, digest: str
) -> tuple[dict[str, Any], bool]:
    """Map the learner, store the submission and the receipt (uncommitted); the answer."""
    assignment = session.scalar(select(Assignment).where(Assignment.slug == data["assignment"]))
    if assignment is None:
        raise APIError(
            422, "unknown_assignment", f"no assignment {data['assignment']!r}", field="assignment"
        )
    learner = _learner(session, platform, data["learner_id"], data.get("learner_name"))
    sub, created = submissions.submit(
        session,
        assignment.id,
        learner.id,
        data["content"],
        idempotency_key=f"webhook:{webhook_id}",
        platform_id=platform.id,
        metadata=data.get("metadata"),
        window=Window.of(assignment),
    )
    body = {
        "id": sub.id,
        "status": sub.status.value,
        "version": sub.version,
        "assignment": assignment.slug,
        "learner_id": learner.external_id,
        "webhook_id": webhook_id,
        "url": f"/api/v1/submissions/{sub.id}",
    }
    session.add(
        WebhookReceipt(
            platform_id=platform.id,
            webhook_id=webhook_id,
            body_sha256=digest,
            submission_id=sub.id,
            status_code=202,
            response=body,
        )
    )
    return body, created


@bp.post("/webhooks/<platform_name>/submissions")
@operation(
    "receiveSubmission",
    "A platform submits a learner's answer (Standard Webhooks)",
    "webhooks",
    {
        202: Reply(
            out.WebhookAccepted,
            "Accepted; a repeated webhook-id gets the first answer again",
            location=True,
        )
    },
    errors=(401, 404, 409, 413, 415, 422),
    body=WebhookSubmission,
    security="signed",
    description=(
        "Signed with the platform's secret over `{webhook-id}.{webhook-timestamp}.{body}` "
        "(HMAC-SHA256, `v1,<base64>`); the timestamp must be within 5 minutes. 401: missing "
        "or bad signature headers or a stale timestamp; 404: unknown platform; 409: a "
        "webhook-id reused for a different body; 422: an invalid payload or unknown "
        "assignment. Nothing is stored on any error."
    ),
)
def receive_submission(platform_name: str) -> Any:
    """Accept a signed submission from a course platform: 202 with the submission id."""
    session = get_db().session
    platform = _platform(platform_name)
    raw = read_body(body_limit())
    webhook_id = verify(active_secrets(session, platform.id), raw, dict(request.headers))
    digest = hashlib.sha256(raw).hexdigest()
    replay = _replay(session, platform, webhook_id, digest)
    if replay is not None:
        return replay
    if request.mimetype != "application/json":
        raise APIError(
            415,
            "unsupported_media_type",
            "send Content-Type: application/json",
            field="Content-Type",
        )
    data = _payload(raw)
    for attempt in range(_ATTEMPTS):
        try:
            body, created = _store(session, platform, data, webhook_id, digest)
            session.commit()
            break
        except IntegrityError:
            # Another request committed first: the same webhook-id (answer as it did), or the
            # same learner's next version number (store again, as the following version).
            session.rollback()
            replay = _replay(session, platform, webhook_id, digest)
            if replay is not None:
                return replay
            if attempt == _ATTEMPTS - 1:
                raise
    if created:
        enqueue_grade(body["id"])
    return body, 202, {"Location": body["url"]}
