# flowtrack developer tasks.
#
# Everything installs into one interpreter, PYTHON: the active virtualenv when there is
# one, else ./.venv (created on first use from BOOTSTRAP_PYTHON). `make test PYTHON=...`
# picks another. Installs take the exact versions in locks/flowtrack.txt (made by uv,
# for every extra and every supported Python), so a fresh machine resolves the same way
# every day; `make lock` moves them to the newest releases the ranges allow.

BOOTSTRAP_PYTHON ?= python3
VENV ?= .venv
ifdef VIRTUAL_ENV
PYTHON ?= $(VIRTUAL_ENV)/bin/python
else
PYTHON ?= $(VENV)/bin/python
endif
LOCK := locks/flowtrack.txt
MLFLOW_LOCK := locks/mlflow-client.txt
# uv itself is bootstrapped with pip at the version the lock holds (the pypi and ray
# extras depend on it), so the installer is pinned like everything it installs (the
# newest uv only while there is no lock yet)
UV_PIN = $(or $(shell grep -m1 '^uv==' $(LOCK) 2>/dev/null | cut -d' ' -f1),uv)
UV = $(PYTHON) -m uv
LINT_PATHS := src tests examples benchmarks
# lint-imports via the interpreter, so a fresh console-script shim is not needed
LINT_IMPORTS := $(PYTHON) -c 'from importlinter.cli import lint_imports_command; lint_imports_command()'
BENCH_ARGS ?=
# the official mlflow client, in a virtualenv of its own, for the tracking server tests
MLFLOW_VENV ?= $(HOME)/.cache/flowtrack/mlflow-client
export FLOWTRACK_TEST_MLFLOW_PYTHON := $(MLFLOW_VENV)/bin/python

.PHONY: venv uv install install-demo system mlflow-client demo test lint bench lock \
	check-ranges clean

## venv: create ./.venv when PYTHON is its interpreter and it does not exist yet
venv:
	@if [ "$(PYTHON)" = "$(VENV)/bin/python" ] && [ ! -x "$(PYTHON)" ]; then \
	  echo "creating the virtualenv $(VENV) with $(BOOTSTRAP_PYTHON)"; \
	  $(BOOTSTRAP_PYTHON) -m venv $(VENV); \
	fi

## uv: the locked uv in PYTHON's environment
uv: venv
	@if [ "$$($(PYTHON) -m uv --version 2>/dev/null | cut -d' ' -f2)" != "$(UV_PIN:uv==%=%)" ]; then \
	  $(PYTHON) -m pip install -q --disable-pip-version-check '$(UV_PIN)'; \
	fi

## install: flowtrack (editable) with the dev extras, at the locked versions
install: uv
	$(UV) pip install -q --python $(PYTHON) -c $(LOCK) -e '.[dev]'

## install-demo: only what the demo needs (the core and the examples extra), locked
install-demo: uv
	$(UV) pip install -q --python $(PYTHON) -c $(LOCK) -e '.[examples]'

## demo: run the MNIST flow in examples/mnist and show the run through the client
demo: install-demo
	cd examples/mnist && $(abspath $(PYTHON)) mnist_flow.py run && $(abspath $(PYTHON)) show_run.py

## system: the Debian packages the tests use: PostgreSQL's server (started by a fixture)
## and chromium (the UI's browser tests drive it through Playwright). SYSTEM=skip leaves
## them out (no root): those tests are then skipped, each saying why.
system:
	@if [ "$(SYSTEM)" = skip ]; then \
	  echo "SYSTEM=skip: not installing PostgreSQL and chromium; their tests will be skipped"; \
	elif ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v chromium >/dev/null; then \
	  echo "PostgreSQL server binaries and chromium present"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql chromium; \
	fi

## mlflow-client: a virtualenv with the official mlflow client at the versions of its own
## lock (kept between runs, made again when the lock changes)
mlflow-client: uv
	@digest=$$(sha256sum $(MLFLOW_LOCK) | cut -d' ' -f1); \
	if [ "$$(cat $(MLFLOW_VENV)/.lock-digest 2>/dev/null)" = "$$digest" ] && \
	   $(MLFLOW_VENV)/bin/python -c 'import mlflow, sklearn, pandas' 2>/dev/null; then \
	  echo "mlflow client present in $(MLFLOW_VENV)"; \
	else \
	  rm -rf $(MLFLOW_VENV) && $(UV) venv -q --python $(PYTHON) $(MLFLOW_VENV) && \
	  $(UV) pip install -q --python $(MLFLOW_VENV)/bin/python -r $(MLFLOW_LOCK) && \
	  echo "$$digest" > $(MLFLOW_VENV)/.lock-digest; \
	fi

## test: system packages, install, lint, the test suite, then the lineage, flow, client,
## tracking, server and example tests again with their metadata on a PostgreSQL server
## (a fixture starts it)
test: system install mlflow-client
	$(MAKE) --no-print-directory lint PYTHON=$(PYTHON)
	$(PYTHON) -m pytest -x -q
	FLOWTRACK_TEST_METADATA=postgresql $(PYTHON) -m pytest -x -q tests/lineage tests/runtime tests/tracking \
	  tests/server tests/client tests/examples tests/cli tests/reliability

## lint: ruff, mypy on the package and the import-layer contracts (needs flowtrack installed)
lint:
	$(PYTHON) -m ruff check $(LINT_PATHS)
	$(PYTHON) -m mypy
	$(LINT_IMPORTS)

## bench: every benchmark with its defaults (BENCH_ARGS='--metaflow-python ...' to compare)
bench: install
	$(PYTHON) benchmarks/run_all.py $(BENCH_ARGS)

## lock: resolve every extra again at the newest releases the ranges allow, for every
## Python the project supports, and the mlflow client's virtualenv likewise
lock: uv
	$(UV) pip compile -q --universal --all-extras --python-version 3.10 --upgrade \
	  --custom-compile-command 'make lock' pyproject.toml -o $(LOCK)
	$(UV) pip compile -q --universal --python-version 3.11 --upgrade \
	  --custom-compile-command 'make lock' locks/mlflow-client.in -o $(MLFLOW_LOCK)

## check-ranges: pip (not uv, not the lock) can still resolve the dev extras from the
## version ranges in pyproject.toml alone, as a user's `pip install -e '.[dev]'` would
check-ranges: venv
	$(PYTHON) -m pip install --dry-run --ignore-installed --quiet --disable-pip-version-check \
	  --no-warn-conflicts -e '.[dev]'

## clean: build outputs, caches and the examples' local stores
clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis .import_linter_cache test-artifacts
	rm -rf .flowtrack examples/*/.flowtrack examples/*/.metaflow
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
