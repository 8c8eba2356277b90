"""The JSON API under /api/v1, one blueprint per resource, plus the health routes."""

from __future__ import annotations

from flask import Flask

from . import (
    assignments,
    calibrations,
    comment_bank,
    copies,
    enrolments,
    groups,
    health,
    notifications,
    regrade_requests,
    review,
    rubrics,
    shares,
    submissions,
    users,
)


def init_app(app: Flask) -> None:
    app.register_blueprint(health.bp)
    for module in (
        assignments,
        calibrations,
        comment_bank,
        copies,
        enrolments,
        groups,
        submissions,
        review,
        regrade_requests,
        notifications,
        rubrics,
        shares,
        users,
    ):
        app.register_blueprint(module.bp, url_prefix="/api/v1")
