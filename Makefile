# The two commands of the README: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-live test-chaos setup catalog docs lint typecheck lock clean-local browser

# Reinstalls only when a requirements or constraints file changed.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "cannot create $(VENV): install python3.11 and python3.11-venv (Debian: apt-get install python3.11-venv)"; \
	  exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

## make run: set up everything, start the sandbox and Airflow (LocalExecutor), Ctrl-C stops it all.
## EP_EXECUTOR=celery make run: the same on CeleryExecutor, EP_CELERY_WORKERS workers (2) on the machine's Redis.
run: $(STAMP)
	$(PY) -m devtools run

## make test: set up a separate test profile (own databases, own Airflow home) and run every test: the tests
## without a live stack on both cores (xdist, a test file's tests on one worker, each worker on its own copies
## of the profile's databases: tests/support/worker_dbs.py); then the live tests on the LocalExecutor, also on
## both cores (each worker's modules on a live stack of the worker's own, tests/e2e/conftest.py); then the
## chaos tests, one stack at a time (tests/chaos/test_celery_faults.py starts its own Celery stack: its faults
## need Celery); then the live tests of CELERY_LIVE again on Celery, on both cores.
## Each stage prints its slowest tests (where the suite's time goes; CI's log keeps them) and records each test
## file's seconds in .local/test-file-seconds.json. The workers take the files longest first, as measured in
## tests/file_seconds.json (tests/support/file_order.py; refresh it from that record after adding long tests).
PARALLEL ?= -n 2 --dist loadfile --no-loadscope-reorder
SECONDS_LOG := --file-seconds=.local/test-file-seconds.json
## The live tests that run two at a time: all but the chaos tests (they load the machine on purpose and time
## their faults).
LIVE_PARALLEL := live and not chaos
test: $(STAMP) browser lint
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test $(PY) -m pytest $(PARALLEL) -m "not live and not chaos" --durations=15 $(SECONDS_LOG)
	EP_PROFILE=test $(PY) -m pytest $(PARALLEL) -m "$(LIVE_PARALLEL)" --durations=0 --durations-min=20 $(SECONDS_LOG)
	EP_PROFILE=test $(PY) -m pytest -m chaos --durations=0 --durations-min=20 $(SECONDS_LOG)
	$(MAKE) --no-print-directory test-live-celery

## Unit and integration tests only (no live Airflow stack).
test-fast: $(STAMP)
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test $(PY) -m pytest $(PARALLEL) -m "not live and not chaos"

test-live: $(STAMP) browser
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test $(PY) -m pytest $(PARALLEL) -m "$(LIVE_PARALLEL)"

## The live suite's Celery pass, a subset for make test's time budget: every live test of the toolkit, and one
## end-to-end test per priority workflow (partner_approval's legal rejection and compensation, dd_room's five
## parallel workstreams to close, signature_commitment signed through the live webhook), on CeleryExecutor
## (2 workers, Redis). CELERY_LIVE=tests/e2e runs every live test there.
CELERY_LIVE ?= tests/e2e/test_toolkit_live.py \
	tests/e2e/test_partner_approval_live.py::test_legal_rejection_fails_the_run_and_is_compensated_once \
	tests/e2e/test_dd_room_live.py::test_happy_path_closes \
	tests/e2e/test_signature_commitment_live.py::test_signed_through_the_live_webhook
.PHONY: test-live-celery
test-live-celery: $(STAMP)
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test EP_EXECUTOR=celery EP_CELERY_WORKERS=2 $(PY) -m pytest $(PARALLEL) -m "live and not chaos" \
	  $(CELERY_LIVE)

test-chaos: $(STAMP)
	EP_PROFILE=test $(PY) -m devtools setup
	EP_PROFILE=test $(PY) -m pytest -m chaos

setup: $(STAMP)
	$(PY) -m devtools setup

## make browser: Debian's chromium for the Workflows page's browser test (Playwright drives it; it downloads no
## browser). Installed once, as root (CI) or through sudo; skipped when a chromium is already there.
CHROMIUM ?= chromium
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }
	@command -v $(CHROMIUM) >/dev/null 2>&1 && $(CHROMIUM) --version

## make catalog: the workflow inventory with each row's class, reasons and implementation status.
catalog: $(STAMP)
	@$(PY) -m devtools catalog

## make docs: the docs generated from the code (docs/compensations.md: every workflow's undos).
docs: $(STAMP)
	@$(PY) -m devtools docs

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=.:plugins:dags $(VENV)/bin/lint-imports

## make lock: re-pin every transitive version after changing requirements*.txt.
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v -E "^(pip|setuptools|wheel)==" > constraints.txt

clean-local:
	rm -rf .local

## make bench: the benchmarks of issue 6 (bench/README.md), on their own profile and embedded Postgres so
## they never touch the test profile's databases. --quick fits ~15 min; BENCH_ARGS= runs the issue's sizes.
## First CeleryExecutor vs LocalExecutor (bench/executors.py: resume latency and throughput on each, ~10 min).
BENCH_ARGS ?= --quick
BENCH_ENV := EP_PROFILE=bench EP_POSTGRES=embedded EP_EMBEDDED_PG_DIR=$(CURDIR)/.local/pgdata-bench \
	EP_EMBEDDED_PG_PORT=$(or $(BENCH_PG_PORT),55440)
.PHONY: bench
bench: $(STAMP)
	$(BENCH_ENV) $(PY) -m devtools setup
	$(BENCH_ENV) $(PY) -m bench.executors $(BENCH_ARGS)
	$(BENCH_ENV) $(PY) -m bench.run $(BENCH_ARGS)
