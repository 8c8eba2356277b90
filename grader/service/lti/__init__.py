"""LTI 1.3 Advantage: launches from an LMS (Canvas, Moodle, Open edX) and grades back to
its gradebook through AGS. See "For LMS administrators" in the README.

``init_app`` registers the models, the /lti endpoints, the admin API, the session cookie
that an LMS iframe accepts, and the hooks that queue scores when answers arrive and
grades are released.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import admin, models, scores, tasks, views  # noqa: F401  (models: metadata)
    from .framing import FramedSessionInterface

    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp, url_prefix="/api/v1")
    app.session_interface = FramedSessionInterface()
    scores.install()
