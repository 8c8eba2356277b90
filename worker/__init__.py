"""The Celery worker's entry package."""
