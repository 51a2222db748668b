# Haul: `make run` starts everything locally, `make test` runs every check.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit functional e2e bench package clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Haul needs Python 3.11 ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
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

test: lint typecheck $(STAMP)
	$(PY) -m pytest tests -q

bench: $(STAMP)
	$(PY) -m bench

package: $(STAMP)
	$(VENV)/bin/chalice package --stage dev build/package

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
