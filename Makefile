# echoscope — two commands on a fresh machine:
#   make demo   set up, run the main job on the bundled sample data, print where the report is
#   make test   set up with test dependencies and run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
ECHO   := $(VENV)/bin/echoscope
DEMO_OUT ?= demo-out

.PHONY: demo test setup setup-test lint typecheck check bench clean system-deps

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.base pyproject.toml
	$(PIP) install -q -e '.[test,spark]'
	touch $@

setup: $(VENV)/.base

setup-test: $(VENV)/.test system-deps

# Java (Spark) and Chromium (browser tests) from Debian; quick when already there.
system-deps:
	@bash scripts/system-deps.sh

demo: setup
	$(ECHO) analyze --sample --out $(DEMO_OUT) --workspace $(DEMO_OUT)/demo.echoscope.duckdb

test: setup-test
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest

lint: setup-test
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks

typecheck: setup-test
	$(PY) -m mypy

bench: setup-test
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
