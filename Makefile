# Haul: `make run` starts everything locally, `make test` runs every check.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit functional e2e bench package clean test-localstack

# The virtualenv, made again whenever the requirements change. pip stays below 26.3: chalice
# package drives pip itself and supports no newer one.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Haul needs Python 3.11 ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "pip>=23.2,<26.3"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet -e .   # the `haul` command-line client (haul_cli/, pyproject.toml)
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m local_runtime

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

functional: $(STAMP)
	$(PY) -m pytest tests/functional -q

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e -q

# Two streams of tests at once (most of the e2e time is waiting on runtimes), a file per
# worker; then, by itself, what measures time (the scale test's 100 ms pages).
test: lint typecheck $(STAMP) browser
	$(PY) -m pytest tests -q -n 2 --dist loadfile -m "not alone"
	$(PY) -m pytest tests -q -m alone

bench: $(STAMP)
	$(PY) -m bench

# The browser tests drive Debian's Chromium (tests/browser); installed here when missing (CI runs
# as root on a fresh machine).
.PHONY: browser
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi

# A report, not in `make test`: 500 then 5,000 downloads in the web app's store (docs/performance.md).
.PHONY: webapp-5000
webapp-5000: $(STAMP) browser
	HAUL_WEBAPP_5000=1 $(PY) -m pytest tests/browser/test_webapp_5000.py -q -s

# The web app's vendored front-end libraries (exact versions in tools/vendor_web.py), fetched
# with npm pack from the npm registry; the committed files are what runs (no Node at run time).
.PHONY: vendor-web
vendor-web:
	python3 tools/vendor_web.py

# The engine's functional and e2e tests with LocalStack's S3 and SQS (on the host, no Docker;
# DynamoDB stays on moto): localstack/host.py. LocalStack lives in a venv of its own.
LS_VENV := .venv-localstack
$(LS_VENV)/.installed: localstack/requirements.txt
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet "pip>=23.2,<26.3"
	$(LS_VENV)/bin/python -m pip install --quiet -r localstack/requirements.txt
	touch $@

test-localstack: $(STAMP) $(LS_VENV)/.installed
	$(PY) localstack/host.py tests/functional tests/e2e -q -m "not alone" $(PYTEST_ARGS)

# -- packaging and deploying (docs/deploy.md); the tests package, they never deploy ----------
STAGE            ?= dev
STACK            ?= haul-$(STAGE)
FILE_EXPIRY_DAYS ?= 0
PACKAGE_DIR      := build/package/$(STAGE)
AWS              := $(VENV)/bin/aws
.PHONY: deploy destroy

# build/package/$(STAGE)/{sam.json,deployment.zip}; reused while its inputs are unchanged.
package: $(STAMP)
	$(PY) -m infra.package --stage $(STAGE) --lint

deploy: package
	@test -n "$(ARTIFACT_BUCKET)" || { echo "make deploy needs ARTIFACT_BUCKET=<an S3 bucket of yours for the code zip>; see docs/deploy.md"; exit 2; }
	$(AWS) cloudformation package --template-file $(PACKAGE_DIR)/sam.json \
	    --s3-bucket $(ARTIFACT_BUCKET) --s3-prefix $(STACK) --output-template-file $(PACKAGE_DIR)/packaged.yaml
	$(AWS) cloudformation deploy --stack-name $(STACK) --template-file $(PACKAGE_DIR)/packaged.yaml \
	    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
	    --parameter-overrides FileExpiryDays=$(FILE_EXPIRY_DAYS)
	$(AWS) cloudformation describe-stacks --stack-name $(STACK) --query "Stacks[0].Outputs" --output table
	@secret=$$($(AWS) cloudformation describe-stacks --stack-name $(STACK) --output text \
	    --query "Stacks[0].Outputs[?OutputKey=='SetupTokenSecret'].OutputValue") && \
	  echo "First-run setup token (POST /api/v1/auth/setup with \"setup_token\"; useless once an admin exists):" && \
	  $(AWS) secretsmanager get-secret-value --secret-id "$$secret" --query SecretString --output text

destroy: $(STAMP)
	@test "$(CONFIRM)" = "$(STACK)" || { echo "make destroy deletes stack $(STACK) (and, except in prod, its tables and files). To go ahead: make destroy STAGE=$(STAGE) CONFIRM=$(STACK)"; exit 2; }
	$(PY) -m infra.stack empty --stack $(STACK)
	$(AWS) cloudformation delete-stack --stack-name $(STACK)
	$(AWS) cloudformation wait stack-delete-complete --stack-name $(STACK)

clean:
	rm -rf $(VENV) $(LS_VENV) build .pytest_cache .mypy_cache .ruff_cache
