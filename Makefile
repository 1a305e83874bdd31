# The README's two commands: `make run` and `make test`. Both work on a fresh
# clone: they find Python 3.12+, build .venv, install the locked dependencies
# (requirements.txt, requirements-dev.txt: generated from the .in files by `make lock`).
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

.PHONY: help run test lint format typecheck bench bench-every venv dev-venv lock messages migrate seed clean

help:
	@echo "make run    set up everything and serve http://127.0.0.1:$(PORT) with a Celery worker and beat"
	@echo "make test   set up and run the whole test suite (ARGS='-k name' to narrow it)"
	@echo "make lint   ruff lint and format check, import layers, mypy"
	@echo "make bench  the request path's benchmarks and one table of their goals (bench/all.py)"
	@echo "make bench-every  every script in bench/, one after another"
	@echo "make lock   re-resolve requirements*.in into the lock files requirements*.txt"

$(VENV)/.python:
	@python=$$(bin/find-python) && echo "Using $$python ($$($$python --version))" && \
	  $$python -m venv $(VENV) && $(PY) -m pip install --quiet --upgrade pip && echo "$$python" > $@

# The lock files pin every package with its hashes, so pip installs exactly
# that tree (--require-hashes: a package missing from the lock is an error).
$(VENV)/.run-deps: requirements.txt | $(VENV)/.python
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	@touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(VENV)/.python
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	@touch $@ $(VENV)/.run-deps

venv: $(VENV)/.run-deps
dev-venv: $(VENV)/.dev-deps

# Edit the top-level pins in requirements.in / requirements-dev.in, then run
# this: it resolves the whole tree again (the runtime lock first; the dev lock
# is constrained by it, so the two agree) and `make dev-venv` installs it.
# tests/test_project.py fails while an input pin and a lock disagree.
# `make lock LOCK_ARGS=--upgrade` also moves the unpinned packages to their newest.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(PY) -m piptools compile --quiet --generate-hashes \
  --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host $(LOCK_ARGS)
lock: dev-venv
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

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
	SECRET_KEY=typecheck EMAIL_URL=locmem:// $(PY) -m mypy $(TYPED)

format: dev-venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: dev-venv
	SECRET_KEY=typecheck $(PY) -m mypy $(TYPED)

# The request path's benchmarks and one table of their goals (bench/all.py).
bench: dev-venv
	@$(PY) bench/all.py $(BENCH_ARGS)

# Every script in bench/, one after another (the above and the rest).
bench-every: dev-venv
	@for script in bench/*.py; do case $$script in bench/all.py|bench/common.py|bench/locustfile.py|bench/profile.py) continue;; esac; echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .hypothesis
