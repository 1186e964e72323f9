# Two commands: `make demo` runs the service with a sample district, `make test` runs every check.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit install install-dev bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed (python3.11 or newer on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/broadcaster demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy broadcaster channels

test: lint typecheck
	$(BIN)/pytest -q

unit: install-dev
	$(BIN)/pytest -q tests/unit

bench: install
	$(BIN)/broadcaster bench fanout --households 100000

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
