# speedledger: `make demo` shows the system end to end, `make test` runs every check CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_MODULES := node_modules/.installed
TYPECHECK_ROOT := build/typecheck

.PHONY: demo test lint typecheck pytest system-deps install docs-cli screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): $(BIN)/python pyproject.toml setup.py
	@echo "install: speedledger and its dev tools into $(VENV)"
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all,dev]'
	@touch $@

$(NODE_MODULES): package.json package-lock.json
	@echo "install: the MicroPython WebAssembly port (npm) for the portable-core tests"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: system-deps $(INSTALLED)

system-deps:
	@scripts/system-deps.sh

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' editable-install finder, so it checks a link farm that mirrors the
# installed `speedledger` namespace (central/ -> speedledger.central, ...; speedledger/layout.py).
typecheck: $(INSTALLED)
	@rm -rf $(TYPECHECK_ROOT)
	@$(BIN)/python -m speedledger.layout namespace $(TYPECHECK_ROOT)
	cd $(TYPECHECK_ROOT) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p speedledger
# ...and the board build (edge/board + the portable core) as MicroPython on an ESP32 sees it.
	edge/board/typecheck.sh $(CURDIR)/$(BIN)/mypy

pytest: install $(NODE_MODULES)
	$(BIN)/pytest -q

test: install $(NODE_MODULES) lint typecheck pytest

# docs/cli.md is generated from the commands' own help; tests/unit/test_cli_docs.py keeps it current.
docs-cli: $(INSTALLED)
	$(BIN)/typer speedledger.cli utils docs --name speedledger --title "speedledger command line" --output docs/cli.md

# PNGs of the dashboard's pages (README, docs/dashboard.md), taken in chromium on a real deployment.
screenshots: install
	$(BIN)/python -m tests.dashboard.screenshots docs/img

demo: install
	$(BIN)/python -m speedledger.demo

clean:
	rm -rf $(VENV) build node_modules .pytest_cache .mypy_cache .ruff_cache
