"""The caller's notifications: grades released, regrade requests answered or arriving."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ..auth import current_user, require
from ..contracts import NotificationsRead, operation, parse, parse_query
from ..contracts import responses as out
from ..contracts.queries import NotificationQuery
from ..db import get_db
from ..models import Role
from ..operations import notifications
from .body import json_body

bp = Blueprint("notifications", __name__)
_PEOPLE = (Role.LEARNER, Role.INSTRUCTOR, Role.ADMIN)


@bp.get("/notifications")
@operation(
    "listNotifications",
    "The caller's notifications, newest first, with the unread count",
    "notifications",
    {200: out.NotificationList},
    errors=(401, 403, 422),
    query=NotificationQuery,
)
@require(*_PEOPLE)
def index() -> dict[str, Any]:
    user = current_user()
    session = get_db().session
    args = parse_query(NotificationQuery, request.args)
    items = notifications.inbox(session, user, unread_only=args.unread == "1")
    return {
        "items": [notifications.notification_json(n) for n in items],
        "unread": notifications.unread_count(session, user),
    }


@bp.post("/notifications/read")
@operation(
    "markNotificationsRead",
    "Mark notifications read (those listed, or all)",
    "notifications",
    {200: out.NotificationsMarked},
    errors=(401, 403, 413, 415, 422),
    body=NotificationsRead,
    body_required=False,
)
@require(*_PEOPLE)
def mark_read() -> dict[str, Any]:
    user = current_user()
    session = get_db().session
    # No body at all means "all of them"; a body must be JSON.
    data = json_body() if request.mimetype or request.content_length else {}
    body = parse(NotificationsRead, data)
    marked = notifications.mark_read(session, user, body.ids)
    session.commit()
    return {"marked": marked, "unread": notifications.unread_count(session, user)}
