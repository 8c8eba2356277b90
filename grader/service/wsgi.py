"""WSGI entry point for gunicorn: `gunicorn grader.service.wsgi:app`."""

from grader.service import create_app

app = create_app()
