# Short names for what people type. `make run` and `make test` need only python3.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 5000

.PHONY: install test lint run bench bench-service clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The service on the embedded default (SQLite database and SQLite-backed Celery broker):
# migrates, seeds the ml-health-check assignment and demo accounts (credentials printed
# once), then runs gunicorn on 127.0.0.1:$(PORT) and a grading worker. Ctrl-C stops both.
run: install
	$(VENV)/bin/grader run --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/agreement_health_check.py
	$(PY) bench/agreement_saf.py
	$(PY) bench/scoring.py

bench-service: install
	$(PY) bench/service.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
