# flowtrack developer tasks. Override the interpreter with `make PYTHON=...`.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
LINT_PATHS := src tests examples benchmarks
# lint-imports via the interpreter, so a fresh console-script shim is not needed
LINT_IMPORTS := $(PYTHON) -c 'from importlinter.cli import lint_imports_command; lint_imports_command()'
BENCH_ARGS ?=
# the official mlflow client, in a virtualenv of its own, for the tracking server tests
MLFLOW_VENV ?= $(HOME)/.cache/flowtrack/mlflow-client
MLFLOW_CLIENT_SPEC ?= mlflow>=3.1,<4
export FLOWTRACK_TEST_MLFLOW_PYTHON := $(MLFLOW_VENV)/bin/python

.PHONY: install system mlflow-client demo test lint bench clean

## install: editable install with the dev and example extras
install:
	$(PIP) install -e '.[dev]'

## demo: run the MNIST flow in examples/mnist and show the run through the client
demo: install
	cd examples/mnist && $(PYTHON) mnist_flow.py run && $(PYTHON) show_run.py

## system: the Debian packages the tests use: PostgreSQL's server (started by a fixture)
## and chromium (the UI's browser tests drive it through Playwright)
system:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v chromium >/dev/null; then \
	  echo "PostgreSQL server binaries and chromium present"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql chromium; \
	fi

## mlflow-client: a virtualenv with the official mlflow client (kept between runs)
mlflow-client:
	@if $(MLFLOW_VENV)/bin/python -c 'import mlflow, sklearn, pandas' 2>/dev/null; then \
	  echo "mlflow client present in $(MLFLOW_VENV)"; \
	else \
	  $(PYTHON) -m venv $(MLFLOW_VENV) && \
	  $(MLFLOW_VENV)/bin/pip install -q '$(MLFLOW_CLIENT_SPEC)' scikit-learn pandas; \
	fi

## test: system packages, install, lint, the test suite, then the lineage, flow, client,
## tracking, server and example tests again with their metadata on a PostgreSQL server
## (a fixture starts it)
test: system install mlflow-client
	$(MAKE) --no-print-directory lint
	$(PYTHON) -m pytest -x -q
	FLOWTRACK_TEST_METADATA=postgresql $(PYTHON) -m pytest -x -q tests/lineage tests/runtime tests/tracking \
	  tests/server tests/client tests/examples tests/cli

## lint: ruff, mypy on the package and the import-layer contracts (needs flowtrack installed)
lint:
	$(PYTHON) -m ruff check $(LINT_PATHS)
	$(PYTHON) -m mypy
	$(LINT_IMPORTS)

## bench: every benchmark with its defaults (BENCH_ARGS='--metaflow-python ...' to compare)
bench: install
	$(PYTHON) benchmarks/run_all.py $(BENCH_ARGS)

## clean: build outputs, caches and the examples' local stores
clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis .import_linter_cache test-artifacts
	rm -rf .flowtrack examples/*/.flowtrack examples/*/.metaflow
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
