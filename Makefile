# The two commands of the README: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-live test-chaos setup catalog lint typecheck lock clean-local

# Reinstalls only when a requirements or constraints file changed.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "cannot create $(VENV): install python3.11 and python3.11-venv (Debian: apt-get install python3.11-venv)"; \
	  exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

## make run: set up everything, start the sandbox and Airflow (LocalExecutor), Ctrl-C stops it all.
run: $(STAMP)
	$(PY) -m devtools run

## make test: set up a separate test profile (own databases, own Airflow home) and run every test.
test: $(STAMP) lint
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test $(PY) -m pytest

## Unit and integration tests only (no live Airflow stack).
test-fast: $(STAMP)
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test $(PY) -m pytest -m "not live and not chaos"

test-live: $(STAMP)
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test $(PY) -m pytest -m live

test-chaos: $(STAMP)
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test $(PY) -m pytest -m chaos

setup: $(STAMP)
	$(PY) -m devtools setup

## make catalog: the workflow inventory with each row's class, reasons and implementation status.
catalog: $(STAMP)
	@$(PY) -m devtools catalog

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## make lock: re-pin every transitive version after changing requirements*.txt.
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v -E "^(pip|setuptools|wheel)==" > constraints.txt

clean-local:
	rm -rf .local

## make bench: the benchmarks of issue 6 (bench/README.md), on their own profile and embedded Postgres so
## they never touch the test profile's databases. --quick fits ~15 min; BENCH_ARGS= runs the issue's sizes.
BENCH_ARGS ?= --quick
BENCH_ENV := EP_PROFILE=bench EP_POSTGRES=embedded EP_EMBEDDED_PG_DIR=$(CURDIR)/.local/pgdata-bench \
	EP_EMBEDDED_PG_PORT=$(or $(BENCH_PG_PORT),55440)
.PHONY: bench
bench: $(STAMP)
	$(BENCH_ENV) $(PY) -m devtools setup
	$(BENCH_ENV) $(PY) -m bench.run $(BENCH_ARGS)
