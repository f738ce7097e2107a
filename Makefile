# Everything a new machine needs is installed from here: uv (into ~/.cache/kitaru),
# then the workspace (.venv). Nothing is installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
CACHE ?= $(HOME)/.cache/kitaru
UV_VERSION := 0.13.9
UV := $(CACHE)/bootstrap/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell command -v $(PYTHON))
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-fast bench lint fmt clean

$(UV):
	@$(PYTHON) -m venv $(CACHE)/bootstrap
	@$(CACHE)/bootstrap/bin/pip install -q "uv==$(UV_VERSION)"

# uv is an order-only prerequisite: installing it must not make the lock or the venv look stale.
PROJECTS := pyproject.toml kitaru_core/pyproject.toml $(wildcard plugins/*/pyproject.toml)

$(VENV)/.synced: $(PROJECTS) uv.lock | $(UV)
	@$(UV) sync --all-packages --quiet
	@touch $@

uv.lock: $(PROJECTS) | $(UV)
	@$(UV) lock --quiet && touch uv.lock

setup: $(VENV)/.synced

demo: setup
	@$(PY) examples/demo.py

test: setup
	@bash scripts/run_tests.sh

test-fast: setup
	@$(PY) -m pytest tests -q -x

bench: setup
	@$(UV) sync --all-packages --group bench --quiet
	@$(PY) -m benchmarks.run
	@$(UV) sync --all-packages --quiet

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports --no-cache >/dev/null || $(VENV)/bin/lint-imports --no-cache

fmt: setup
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
