# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step they call.
# Only Python 3.11+ and make are assumed; the virtual environment lives in .venv, local state in var/.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check install dev lint format typecheck migrations-check openapi openapi-check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip prints each package it fetches, so a first install (a minute or two) shows its progress.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "make: installing Crowdmaker and its dependencies into $(VENV) ..."
	$(BIN)/python -m pip install --progress-bar off -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	@echo "make: installing the development tools into $(VENV) ..."
	$(BIN)/python -m pip install --progress-bar off -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

## run: install, start the embedded PostgreSQL (unless DATABASE_URL is set), migrate, load demo data on the
## first run, serve the platform on http://127.0.0.1:8000 with a background worker. Ctrl-C stops all of it.
run: install
	$(BIN)/crowdmaker run

## test: install the dev dependencies and run every test against PostgreSQL.
test: dev
	$(BIN)/pytest

## check: lint, format, types, migrations and OpenAPI drift.
check: lint typecheck migrations-check openapi-check

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: dev
	DATABASE_URL=$${DATABASE_URL:-postgresql://mypy-loads-settings-only@localhost/none} $(BIN)/mypy

migrations-check: dev
	DJANGO_SETTINGS_MODULE=crowdmaker.config.settings.test $(BIN)/crowdmaker makemigrations --check --dry-run

openapi: dev
	DJANGO_SETTINGS_MODULE=crowdmaker.config.settings.test $(BIN)/crowdmaker export-openapi

openapi-check: dev
	DJANGO_SETTINGS_MODULE=crowdmaker.config.settings.test $(BIN)/crowdmaker export-openapi --check

## bench: measure the web servers (see benchmarks/README.md).
bench: dev
	$(BIN)/python benchmarks/web_servers.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info src/*.egg-info
