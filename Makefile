# Feraset Imagen API — the two commands: `make dev` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := functions/venv
PY := $(VENV)/bin/python
PROJECT := feraset-imagen
TOOLCHAIN = eval "$$($(PY) scripts/toolchain.py)"
FIREBASE := npx --no-install firebase --project $(PROJECT)

.PHONY: help install dev test test-unit test-integration lint format bench clean

help:
	@echo "make dev    install everything, run the emulator stack with seeded data and the web UI"
	@echo "make test   install everything, run lint, unit and emulator integration tests"
	@echo "make bench  benchmarks against a running emulator stack (started by the script)"

## Installation ------------------------------------------------------------
$(VENV)/.installed: functions/requirements.txt functions/requirements-dev.txt
	@test -x $(PY) || "$$(scripts/python313.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r functions/requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed
	@$(PY) scripts/toolchain.py >/dev/null

## The two commands ----------------------------------------------------------
dev: install
	@$(TOOLCHAIN) && scripts/dev.sh

test: install lint test-unit test-integration

## Pieces --------------------------------------------------------------------
lint:
	cd functions && venv/bin/ruff check . && venv/bin/ruff format --check . && venv/bin/mypy
	$(VENV)/bin/ruff check --config functions/pyproject.toml scripts && $(VENV)/bin/ruff format --config functions/pyproject.toml --check scripts

format:
	cd functions && venv/bin/ruff check --fix . && venv/bin/ruff format .
	$(VENV)/bin/ruff format --config functions/pyproject.toml scripts

test-unit:
	cd functions && venv/bin/pytest -q tests/unit

# Python integration tests and the Firestore rules tests, inside one emulator suite run.
test-integration:
	@$(PY) scripts/env_local.py test
	@$(TOOLCHAIN) && $(FIREBASE) emulators:exec --only functions,firestore,tasks,pubsub,hosting \
		"cd functions && venv/bin/pytest -q tests/integration && cd .. && npm run --silent test:rules"

bench: install
	@$(PY) scripts/env_local.py bench
	@$(TOOLCHAIN) && $(FIREBASE) emulators:exec --only functions,firestore,tasks,pubsub,hosting \
		"$(PY) scripts/bench.py"

clean:
	rm -rf $(VENV) node_modules .cache
