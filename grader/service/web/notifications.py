"""The notifications page: what happened to the user's grades and requests, newest first."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..db import get_db
from ..errors import not_found
from ..operations import notifications
from .blueprint import bp, notify
from .session import current_user, signed_in


@bp.get("/notifications")
@signed_in()
def notifications_page() -> str:
    user = current_user()
    session = get_db().session
    return render_template(
        "web/notifications.html",
        items=notifications.inbox(session, user, limit=100),
        unread=notifications.unread_count(session, user),
    )


@bp.get("/notifications/<int:note_id>")
@signed_in()
def open_notification(note_id: int) -> Response:
    """Follow a notification's link, marking it read (only the user's own exist here)."""
    user = current_user()
    session = get_db().session
    note = notifications.get_own(session, user, note_id)
    if note is None:
        raise not_found("notification")
    notifications.mark_read(session, user, [note.id])
    session.commit()
    return redirect(note.link or url_for("web.notifications_page"), code=303)


@bp.post("/notifications/read")
@signed_in()
def notifications_read() -> Response:
    """Mark one (``id``) or all of the user's notifications read."""
    user = current_user()
    session = get_db().session
    raw = request.form.get("id", "")
    # ASCII digits only ("²" is a digit to str.isdigit, and no int).
    if not raw:
        ids = None  # all of them
    elif raw.isascii() and raw.isdecimal() and len(raw) < 11:
        ids = [int(raw)]
    else:
        ids = []  # not an id: nothing to mark
    notifications.mark_read(session, user, ids)
    session.commit()
    if ids is None:
        notify("All marked read.")
    return redirect(url_for("web.notifications_page"), code=303)
