"""grader's web service: the Flask app factory.

``create_app(config)`` layers settings (defaults, then the environment, then ``config``),
then attaches each part with its ``init_app``. Nothing is read at import time.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from .config import DEFAULTS, from_environment, resolve
from .db import Database


def create_app(config: dict[str, Any] | None = None) -> Flask:
    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get("GRADER_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.path.abspath(instance) if instance else None,
    )
    settings = dict(DEFAULTS)
    settings.update(from_environment())
    settings.update(config or {})
    app.config.update(resolve(settings, app.instance_path))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from . import errors, lti, mail, web, webhooks
    from .api import init_app as init_api
    from .celery_setup import init_celery

    Database().init_app(app)  # one per app: tests and tools may build several
    errors.init_app(app)
    init_celery(app)
    init_api(app)
    webhooks.init_app(app)  # course platforms' webhooks, admin API, OpenAPI document
    lti.init_app(app)  # LTI 1.3 launches and grades back to LMS gradebooks
    web.init_app(app)  # pages for learners and instructors
    mail.install()  # notifications by mail, when SMTP_HOST is set
    return app
