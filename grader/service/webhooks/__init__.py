"""Course platforms: signed webhooks in (submissions) and out (grade events).

``init_app`` registers the models (so ``create_all`` and alembic see them), the inbound and
admin blueprints under /api/v1, the grading event hook with its after-commit listener, and
the OpenAPI document (grader.service.openapi), which describes this package's routes too.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .. import openapi
    from . import admin, events, inbound, models, tasks  # noqa: F401  (models: metadata)

    app.register_blueprint(inbound.bp, url_prefix="/api/v1")
    app.register_blueprint(admin.bp, url_prefix="/api/v1")
    events.install()
    openapi.init_app(app)
