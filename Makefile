# PrivFace: `make run` starts the platform, `make test` runs the whole suite.
# Both do every set-up step themselves (venv, installs, migrations, front-end build).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
FRONTEND_SRC := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json -type f 2>/dev/null)

.PHONY: run test lint pytest frontend-test frontend chromium services clean help api-types

help:
	@echo "make run   - set up and start the web app on http://$(HOST):$(PORT)/"
	@echo "make test  - set up and run every test (lint, front-end unit tests, pytest incl. browser)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(FRONTEND_SRC)
	cd frontend && npm run build

frontend: frontend/dist/index.html

# The front end's API types, generated from the OpenAPI schema Django serves
# (tests/platform/test_api_types.py fails when the committed file is stale).
API_TYPES := frontend/src/generated/apiSchema.d.ts
api-types: $(VENV)/.dev frontend/node_modules/.installed
	mkdir -p var
	$(PY) manage.py spectacular --file var/api-schema.yml
	cd frontend && node_modules/.bin/openapi-typescript ../var/api-schema.yml -o ../$(API_TYPES)

# Debian's Chromium for the Playwright browser tests; never a browser download.
chromium:
	@command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

run: $(VENV)/.runtime frontend
	$(PY) manage.py migrate --noinput
	$(PY) run.py webapp --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

frontend-test: frontend/node_modules/.installed
	cd frontend && npm test

pytest: $(VENV)/.dev frontend chromium
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint frontend-test pytest

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist var/static var/test-logs
