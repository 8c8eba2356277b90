# One image for the web server, the worker and the beat scheduler (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 grader
COPY pyproject.toml README.md ./
COPY grader ./grader
COPY worker ./worker
COPY rubrics ./rubrics
RUN pip install . && mkdir -p /app/instance && chown grader /app/instance
USER grader
ENV GRADER_INSTANCE_PATH=/app/instance GRADER_RUBRICS_DIR=/app/rubrics
EXPOSE 8000
# Sync workers with a 60 s timeout on purpose: requests are short and bounded, grading runs in
# the Celery worker (same settings as `grader run` and docker-compose.yml).
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--worker-class", "sync", "--timeout", "60", "--graceful-timeout", "30", "grader.service.wsgi:app"]
