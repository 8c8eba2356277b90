"""Worker entry point: `celery -A worker.celery_app worker`.

Builds the Flask app (same settings as the web process) and exposes its Celery app; the
tasks live in grader.service.tasks.
"""

from grader.service import create_app

flask_app = create_app({"PROCESS_ROLE": "worker"})
celery = flask_app.extensions["celery"]
app = celery
