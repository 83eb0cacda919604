# The two commands of the quick start (`make demo`, `make test`) and the Dagster UI (`make dev`).
# Each target creates or updates .venv by itself from pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo dev test test-all test-e2e lint stack-down clean

# The platform and, beside it, the local stack's own distribution (the emulators and the dev commands).
$(STAMP): pyproject.toml local_stack/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./local_stack
	touch $(STAMP)

demo: $(STAMP)  ## the main job on the embedded local stack, end to end
	$(BIN)/baton demo

dev: $(STAMP)  ## the local stack plus the Dagster UI on http://127.0.0.1:3000
	$(BIN)/baton dev

test: $(STAMP)  ## the default (fast) test run (installs Debian's PostgreSQL first if it is missing)
	.ci/postgres-setup
	$(BIN)/python -m pytest

test-all: $(STAMP)  ## every test but the browser one (make test-e2e), slow ones included
	.ci/postgres-setup
	$(BIN)/python -m pytest -m 'not e2e'

test-e2e: $(STAMP)  ## the Dagster UI in headless chromium (installs chromium and the e2e extra first)
	.ci/e2e-setup
	$(BIN)/python -m pytest -m e2e tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

stack-down: $(STAMP)
	$(BIN)/baton stack down

clean: stack-down
	rm -rf .baton
