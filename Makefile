# Two commands: `make demo` runs the service with a sample district, `make test` runs every check.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit install install-dev bench clean browser

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
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy broadcaster channels

# Page tests drive Debian's Chromium (Playwright never downloads a browser here), with a CJK font
# so the screenshots in docs/ show Chinese. As root, install what is missing; otherwise those
# tests skip and say why.
BROWSER_PKGS := chromium fonts-noto-cjk
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; } \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& (apt-get install -y -q $(BROWSER_PKGS) >/dev/null 2>&1 || (apt-get update -q >/dev/null \
		&& apt-get install -y -q $(BROWSER_PKGS) >/dev/null)) || echo "no chromium: page tests will skip"; }

# Four test processes on 2 cores: on a quiet machine the suite mostly waits (workers, servers,
# polls). The slow files are collected first (tests/conftest.py SLOW_FIRST) and handed out a
# test at a time (--maxschedchunk=1), so they spread over the processes: 710 and 802 s on
# 2026-12-08, against 1,157 s when xdist's first chunk (a quarter of a process's share) gave
# them all to one process, which ran them in a row while the other three sat idle. An earlier
# try sent 45 duplicates in the crash-safety test beside the other heavy stacks (bound 12);
# today's code sent none in three such runs on either database.
# The 30 slowest tests are listed at the end: where the suite's time goes.
test: lint typecheck browser
	$(BIN)/pytest -q -n 4 --dist load --maxschedchunk=1 --durations=30

unit: install-dev
	$(BIN)/pytest -q tests/unit

bench: install
	$(BIN)/broadcaster bench fanout --households 100000

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
