"""Server-rendered pages for learners and instructors (Flask + Jinja, no CDN, one small
script of our own). See "Web pages" in the README.

Routes stay out of /api/, so the JSON API's error envelope and bearer-token auth are
untouched; the pages sign in with a session cookie that the API never reads.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the pages and make the session cookie HttpOnly and SameSite=Lax."""
    from . import (  # noqa: F401  (they add routes to bp)
        account,
        accounts,
        analytics,
        comments,
        course,
        dashboard,
        groups,
        learner,
        lti_admin,
        lti_setup,
        notifications,
        regrade_requests,
        review,
        rubric_edit,
        withdraw,
    )
    from .blueprint import bp

    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.register_blueprint(bp)
