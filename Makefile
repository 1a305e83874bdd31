# The README's two commands: `make run` and `make test`. Both work on a fresh
# clone: they find Python 3.12+, build .venv, install the pinned dependencies.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The packages mypy checks (`make typecheck`, and `make lint` so CI fails on a type error).
TYPED := clinic patients treatments booking portal workspace demo

# Development defaults for `make run`, used only when the variable is not set.
DEV_ENV = DEBUG=$${DEBUG:-1} ALLOWED_HOSTS=$${ALLOWED_HOSTS:-127.0.0.1,localhost} \
  CLINIC_BASE_URL=$${CLINIC_BASE_URL:-http://127.0.0.1:$(PORT)} SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)}

.PHONY: help run test lint format typecheck bench venv dev-venv messages migrate seed clean

help:
	@echo "make run    set up everything and serve http://127.0.0.1:$(PORT) with a Celery worker and beat"
	@echo "make test   set up and run the whole test suite (ARGS='-k name' to narrow it)"
	@echo "make lint   ruff lint and format check, import layers, mypy"
	@echo "make bench  run the benchmarks in bench/"

$(VENV)/.python:
	@python=$$(bin/find-python) && echo "Using $$python ($$($$python --version))" && \
	  $$python -m venv $(VENV) && $(PY) -m pip install --quiet --upgrade pip && echo "$$python" > $@

$(VENV)/.run-deps: requirements.txt | $(VENV)/.python
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(VENV)/.python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.run-deps

venv: $(VENV)/.run-deps
dev-venv: $(VENV)/.dev-deps

var/secret_key: | $(VENV)/.python
	@mkdir -p var
	@$(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	@chmod 600 $@

messages: venv
	@$(PY) -m clinic.i18n compile

migrate: venv var/secret_key messages
	@$(DEV_ENV) $(PY) manage.py migrate --noinput
	@$(DEV_ENV) $(PY) manage.py createcachetable

seed: migrate
	@$(DEV_ENV) $(PY) manage.py seed_demo

run: seed
	@$(DEV_ENV) PORT=$(PORT) bin/run-dev

test: dev-venv var/secret_key messages
	@bin/run-tests $(ARGS)

lint: dev-venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	SECRET_KEY=typecheck $(PY) -m mypy $(TYPED)

format: dev-venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: dev-venv
	SECRET_KEY=typecheck $(PY) -m mypy $(TYPED)

bench: dev-venv
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .hypothesis
