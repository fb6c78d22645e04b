# leadrouter: make run | make test | make bench | make lint
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench install install-dev clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("leadrouter needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## run: the service on SQLite (./leadrouter.db) with deploy/agreements/example.yaml, on $(HOST):$(PORT)
run: install
	$(BIN)/leadrouter migrate
	$(BIN)/leadrouter keys local-admin
	$(BIN)/leadrouter serve --host $(HOST) --port $(PORT)

## lint: ruff, mypy --strict and the import contract (router/ and schemas/ stay pure)
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## test: the quality gates, then every test (real SQLite, PostgreSQL and Kafka-protocol broker)
test: lint
	$(BIN)/python -m pytest

## bench: every benchmark in bench/ (each prints a closing JSON line)
bench: install-dev
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info leadrouter.db leadrouter.db-*
