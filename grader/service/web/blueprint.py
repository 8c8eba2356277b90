"""The pages' blueprint: request limits, CSRF, security headers and HTML error pages.

Everything here applies to the pages only; the JSON API under /api/ keeps its own error
envelope and bearer-token auth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, flash, render_template, request, session
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from grader.scoring import FLAG_MESSAGES

from ..db import get_db
from ..errors import RETRY_AFTER, APIError, is_outage
from ..models import Role, Status, Submission, User
from ..operations.assignments import shown_learner
from ..operations.notifications import unread_count
from ..operations.queue import queue_flags
from .session import CSRF_FIELD, CSRFError, check_csrf, csrf_token, load_user

log = logging.getLogger(__name__)

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)

# script-src 'self' and no 'unsafe-inline' anywhere: inline scripts, on* handlers and style
# attributes are all refused by the browser, even if something slipped past the sanitiser.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# Room for the form's other fields and multipart framing beside the answer itself.
_FORM_OVERHEAD = 64 * 1024

FLAG_LABELS = {
    "keyword_stuffing": "Keyword stuffing",
    "template_pasted": "Template pasted",
    "exercise_copied": "Exercise copied",
    "off_topic": "Off topic",
    "too_short": "Too short",
    "contains_html": "Contains HTML",
    "language": "Other language",
    "hidden_text": "Hidden text",
    "prompt_injection": "Instructions to the grader",
    "contradicts_scenario": "Contradicts the scenario",
    "generic": "Generic",
    "harmful_action": "Harmful action",
    "no_commitment": "No priority order",
    "possible_copy": "Possible copy",
}

LEARNER_STATUS = {
    Status.QUEUED: "Waiting to be graded",
    Status.GRADING: "Being graded",
    Status.GRADED: "Graded; waiting for your instructor to release it",
    Status.RELEASED: "Grade released",
    Status.FAILED: "Grading failed; your instructor will look at it",
}


@bp.before_request
def _guard() -> None:
    """Cap what a form may send, then require the CSRF token on every state change."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    answer_limit = int(current_app.config["MAX_SUBMISSION_BYTES"])
    request.max_content_length = answer_limit + _FORM_OVERHEAD
    request.max_form_memory_size = answer_limit + 1024
    check_csrf()


@bp.after_request
def _headers(response: Response) -> Response:
    return secure_headers(response)


def secure_headers(response: Response) -> Response:
    """The pages' headers. A session launched from an LMS (grader.service.lti) may show its
    FRAMEABLE pages in that LMS's iframe (frame-ancestors names the platform's origins);
    every other page refuses to be framed."""
    framed = framing_origins()
    if framed:
        response.headers["Content-Security-Policy"] = CSP.replace(
            "frame-ancestors 'none'", f"frame-ancestors 'self' {framed}"
        )
    else:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "web.static":
        # Pages show grades and answers: keep them out of shared caches and the back button
        # of a signed-out browser.
        response.headers["Cache-Control"] = "no-store"
    return response


#: The pages an LMS iframe shows: a learner's assignment and submissions, and the
#: instructor's link pages. Everything else (review, dashboard, people, admin) refuses to
#: be framed even in a launched session, so no page of the LMS's origin can overlay them.
FRAMEABLE = frozenset(
    {
        "web.home",
        "web.assignment",
        "web.submit_answer",
        "web.submission",
        "web.submission_status",
        "web.lti_setup",
        "web.lti_attach",
        "web.lti_open",
    }
)


def framing_origins() -> str:
    """The origins that may frame this page of this session (space-separated; "" none)."""
    if not current_app.config.get("LTI_FRAME_SESSIONS") or request.endpoint not in FRAMEABLE:
        return ""
    origins = session.get("lti_frame")
    return origins if isinstance(origins, str) else ""


@bp.app_template_global()
def csrf_field_name() -> str:
    return CSRF_FIELD


@bp.app_template_filter("dt")
def format_datetime(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return parsed.strftime("%Y-%m-%d %H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("pts")
def format_points(value: float | int | None) -> str:
    if value is None:
        return "–"
    return f"{float(value):.1f}".removesuffix(".0")


@bp.app_template_filter("queue_flags")
def staff_flags(sub: Submission) -> list[str]:
    """A queue row's flags, possible_copy included (staff pages only)."""
    return queue_flags(sub)


@bp.app_template_filter("author")
def author(sub: Submission) -> str:
    """The answer's learner as reviewers may see them (blind review hides the name)."""
    return str(shown_learner(sub)["name"])


@bp.app_template_filter("flag_list")
def flag_list(flags_text: str | None) -> list[str]:
    """The submission's denormalised ``,flag,flag,`` column as a list."""
    return [f for f in (flags_text or "").split(",") if f]


@bp.app_template_filter("pct")
def format_percent(value: float | None) -> str:
    return "–" if value is None else f"{round(float(value) * 100)}%"


@bp.context_processor
def _template_context() -> dict[str, Any]:
    user = load_user()
    return {
        "unread_notifications": _unread(user),
        "csrf_token": csrf_token,
        "web_user": user,
        "is_staff": user is not None and user.role in (Role.INSTRUCTOR, Role.ADMIN),
        # Inside an LMS's iframe: no navigation to pages that refuse to be framed.
        "framed": bool(framing_origins()),
        "flag_labels": FLAG_LABELS,
        "flag_messages": FLAG_MESSAGES
        | {
            "possible_copy": "Shares long passages word for word with another answer or the "
            "sample answers (staff only; a hint, not a penalty)"
        },
        "learner_status": LEARNER_STATUS,
    }


def _unread(user: User | None) -> int:
    """The badge in the header; 0 when the database is out (the error page still renders)."""
    if user is None:
        return 0
    try:
        return unread_count(get_db().session, user)
    except (DBAPIError, PoolTimeout):
        get_db().session.rollback()
        return 0


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("web/error.html", status=status, title=title, message=message), status


_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Check the form",
}


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return error_page(
        400,
        "The form could not be accepted",
        f"Nothing was changed: {exc}. Go back, reload the page and try again.",
    )


#: Pages for an upload too large to read, by endpoint: page(view_args, limit). The page
#: modules register theirs (so this module imports none of them).
TOO_LARGE_PAGES: dict[str, Callable[[dict[str, Any], int], Any]] = {}


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    limit = int(current_app.config["MAX_SUBMISSION_BYTES"])
    page = TOO_LARGE_PAGES.get(request.endpoint or "")
    if page is not None:
        return page(dict(request.view_args or {}), limit)
    return error_page(413, "Too large", f"The form sent more than {limit // 1024} KB.")


@bp.errorhandler(APIError)
def _api_error(exc: APIError) -> tuple[str, int]:
    get_db().session.rollback()
    return error_page(exc.status, _TITLES.get(exc.status, "Error"), exc.sentence)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    messages = {
        403: "This page is for instructors.",
        404: "There is nothing here, or it is not yours to see.",
    }
    return error_page(
        status,
        _TITLES.get(status, exc.name or "Error"),
        messages.get(status, exc.description or ""),
    )


@bp.errorhandler(DBAPIError)
@bp.errorhandler(PoolTimeout)
def _database_error(exc: Exception) -> tuple[str, int, dict[str, str]] | tuple[str, int]:
    if not is_outage(exc):
        return _unexpected(exc)
    log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
    html, status = error_page(
        503,
        "Try again in a moment",
        "The database is not reachable just now; nothing was saved. Try again shortly.",
    )
    return html, status, {"Retry-After": str(RETRY_AFTER)}


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    try:
        get_db().session.rollback()
    except Exception:  # pragma: no cover - the session itself may be broken
        log.exception("rollback failed")
    return error_page(
        500, "Something went wrong", "An unexpected error occurred; nothing was saved."
    )


def notify(message: str, category: str = "ok") -> None:
    """A one-line message shown on the next page (after a redirect)."""
    flash(message, category)
