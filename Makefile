# imgpipe: `make run` starts the service on embedded defaults; `make test` runs lint and every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT := $(if $(filter 0,$(shell id -u)),,sudo) apt-get

.PHONY: run test lint bench soak clean install lock lint-infra system-packages deploy client

# uv installs every environment from a lock; it is the one tool installed by version alone.
UV_VERSION := 0.13.9

# checkov pins many packages of its own: it gets a virtualenv of its own, pinned so that CI
# runs the same checks as a laptop.
TOOLS := .venv-tools
CHECKOV_VERSION := 3.3.30
TOOLS_STAMP := $(TOOLS)/.checkov-$(CHECKOV_VERSION)
# The SAM CLI pins an older boto3 than imgpipe's: a virtualenv of its own too.
SAM := .venv-sam
SAM_VERSION := 1.170.0
SAM_STAMP := $(SAM)/.sam-$(SAM_VERSION)

# The dev environment is installed from its hashed lock (requirements/dev.txt, `make lock`), so a
# laptop and CI run the same versions; imgpipe itself goes in editable, without dependencies.
$(STAMP): pyproject.toml requirements/dev.txt
	@# Debian's python3 makes virtualenvs only with its python3-venv package.
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { $(APT) update -qq && $(APT) install -y -qq python3-venv; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/dev.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/imgpipe serve --host 127.0.0.1 --port 8000

lint: $(STAMP) lint-infra
	$(BIN)/ruff check core services tests bench
	$(BIN)/ruff format --check core services tests bench
	$(BIN)/mypy

test: lint system-packages
	$(BIN)/pytest

# Debian programs the tests drive for real: kcat (a third-party Kafka client, for interop) and
# headless Chromium (the dashboard's and the docs' browser tests). Installed when missing;
# the tests fail, never skip, without them.
system-packages:
	@command -v kcat >/dev/null || { $(APT) update -qq && $(APT) install -y -qq kcat; }
	@command -v chromium >/dev/null || { $(APT) update -qq && $(APT) install -y -qq chromium; }

bench: $(STAMP)
	$(BIN)/python -m bench

# The soak (not in `make bench` nor `make test`): serve and consume at ~80% of their measured
# capacity for 10 minutes; `make soak SOAK_SECONDS=60` for a short check. bench/results/soak.json.
SOAK_SECONDS ?= 600
soak: $(STAMP)
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS)

clean:
	rm -rf $(VENV) $(TOOLS) $(SAM) .imgpipe .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info .aws-sam
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

$(TOOLS_STAMP): $(STAMP)
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(BIN)/uv pip install --quiet --python $(TOOLS)/bin/python 'checkov==$(CHECKOV_VERSION)'
	touch $(TOOLS_STAMP)

# Deployment files, offline: lock files against pyproject.toml, the SAM template (cfn-lint as
# written and expanded, checkov, `sam validate --lint`), the Dockerfile (hadolint).
$(SAM_STAMP): $(STAMP)
	test -x $(SAM)/bin/python || $(PYTHON) -m venv $(SAM)
	$(BIN)/uv pip install --quiet --python $(SAM)/bin/python 'aws-sam-cli==$(SAM_VERSION)'
	touch $(SAM_STAMP)

lint-infra: $(STAMP) $(TOOLS_STAMP) $(SAM_STAMP)
	$(BIN)/ruff check infra
	$(BIN)/ruff format --check infra
	$(BIN)/mypy infra bench/coldstart.py
	$(BIN)/python -m infra.locks check
	$(BIN)/python -m infra.check

# Build both images and deploy the stack with the SAM CLI (needs Docker and AWS credentials).
# The first time, samconfig.toml holds placeholders and `sam deploy --guided` asks for them.
CONFIG_ENV ?= default
deploy: $(SAM_STAMP)
	$(BIN)/python -m infra.deploy --sam $(SAM)/bin/sam --config-env $(CONFIG_ENV)

# Regenerate the typed Python client (clients/python) from the API's OpenAPI document; a test
# fails while the committed client is out of step with the app.
client: $(STAMP)
	$(BIN)/python -m infra.client generate

# Regenerate requirements/*.txt (hashed: one per image, one for dev) from pyproject.toml's
# extras with uv; needs PyPI. `make lock UPGRADE=1` moves every pin to the newest release.
lock: $(STAMP)
	$(BIN)/python -m infra.locks generate $(if $(UPGRADE),--upgrade)
