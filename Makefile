# Feraset Imagen API — the two commands: `make dev` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := functions/venv
PY := $(VENV)/bin/python
PROJECT := feraset-imagen

.PHONY: help install dev test test-unit test-integration chromium lint format bench load export \
	check-dev-stop clean

help:
	@echo "make help              this list"
	@echo "make install           the venv, node_modules, the console's pages and Firebase SDK bundle"
	@echo "make dev               install, then run the emulator stack with seeded data and the web UI"
	@echo "make test              install, then lint, unit and emulator integration tests"
	@echo "make test-unit         the unit tests (no emulators)"
	@echo "make test-integration  integration, rules, browser and Postman tests against the emulators"
	@echo "make chromium          install Debian's chromium for the browser tests when missing"
	@echo "make lint              ruff and mypy over functions/, ruff over scripts/"
	@echo "make format            apply ruff's fixes and formatting"
	@echo "make bench             benchmarks (starts the emulators itself)"
	@echo "make load              60 s load test through the functions emulator"
	@echo "make export            regenerate docs/firestore-export from the seeder"
	@echo "make check-dev-stop    start and stop \`make dev\` 12 times (SIGTERM/SIGINT, ~8 min)"
	@echo "make clean             remove the venv, node_modules and .cache"

## Installation ------------------------------------------------------------
$(VENV)/.installed: functions/requirements.txt functions/requirements-dev.txt
	@test -x $(PY) || "$$(scripts/stack/python313.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r functions/requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The console's pages and its Firebase JS SDK bundle (no CDN), built from console-src/; not tracked.
WEB_BUNDLE := public/index.html public/report.html public/assets/vendor/firebase.js
$(WEB_BUNDLE) &: node_modules/.installed $(wildcard console-src/*)
	npm run --silent build:web

install: $(VENV)/.installed node_modules/.installed $(WEB_BUNDLE)
	@$(PY) scripts/stack/toolchain.py >/dev/null

## The two commands ----------------------------------------------------------
dev: install
	$(STACK) dev

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

EMULATORS := functions,firestore,tasks,pubsub,hosting,auth
# Each run in its own emulator suite, stopped with all it started (scripts/stack/emulators.py).
STACK := $(PY) scripts/stack/emulators.py
EXEC := $(STACK) exec

# Integration, rules, browser and Postman tests against one emulator suite run each; the
# signed-in console and the closed admin functions against one more, with auth required (seeded
# with the stack's admin key, plus the sign-in accounts).
SEED := $(STACK) seed
ADMIN_HTTP := tests/integration/test_admin_auth_mode.py::test_the_functions_emulator_guards_admin_functions_as_its_mode_says
test-integration: chromium
	$(EXEC) test $(EMULATORS) "npm run --silent test:rules && npm run --silent test:browser \
		&& npm run --silent test:postman"
	REQUIRE_AUTH=true $(EXEC) test $(EMULATORS) "$(SEED) && npm run --silent test:browser-auth \
		&& cd functions && venv/bin/pytest -q $(ADMIN_HTTP)"
	$(EXEC) test $(EMULATORS) "cd functions && venv/bin/pytest -q tests/integration"

chromium:
	@scripts/stack/ensure_chromium.sh

bench: install
	$(EXEC) bench $(EMULATORS) "$(PY) scripts/perf/bench.py"
	$(EXEC) bench firestore "$(PY) scripts/perf/bench_report.py"

# 16 clients, 13 users, 60 s, failure rate 0.2: zero 5xx, all terminal, ledger consistent.
load: install
	$(EXEC) load functions,firestore,tasks,pubsub "$(PY) scripts/perf/load.py"

# Regenerate docs/firestore-export from the seeder through the real emulator's export.
export: install
	$(EXEC) dev firestore "$(PY) scripts/data/export_seed.py"

# `make dev` always stops: SIGTERM and Ctrl-C during start-up, idle and under load, twice each;
# no process may be left and every port must be free. Not part of `make test` (~8 min).
check-dev-stop: install
	$(PY) scripts/stack/check_dev_stop.py

clean:
	rm -rf $(VENV) node_modules .cache
