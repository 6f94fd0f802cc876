# Agentic Trading: one-command setup, test, demo. Everything installs itself into .venv.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
SERVICES := at-gateway at-agents at-exec-sim at-obs
CORE_VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' at-core/src/at_core/__init__.py)
CORE_WHEEL := dist/at_core-$(CORE_VERSION)-py3-none-any.whl
CORE_SRC := $(shell find at-core/src -name '*.py' -o -name '*.yaml' | sort) at-core/pyproject.toml at-core/README.md
SERVICE_META := $(foreach s,$(SERVICES),$(s)/pyproject.toml)

.PHONY: help setup build-core test lint format typecheck imports schemas schemas-check test-packages demo up bench bench-gateway bench-exec bench-e2e bench-burst bench-console bench-backtest clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(CORE_WHEEL): $(CORE_SRC) | $(VENV)/.created
	rm -f dist/at_core-*.whl
	$(PIP) wheel -q --no-deps -w dist ./at-core

build-core: $(CORE_WHEEL) ## Build the at-core wheel into dist/

$(VENV)/.setup: $(CORE_WHEEL) $(SERVICE_META) requirements-dev.txt
	$(PIP) install -q --force-reinstall --no-deps $(CORE_WHEEL)
	$(PIP) install -q "$(CORE_WHEEL)[test]" -r requirements-dev.txt
	$(PIP) install -q --find-links dist $(foreach s,$(SERVICES),-e "./$(s)[test]")
	@$(PY) -c 'import at_core; print("at-core", at_core.__version__, "installed from", at_core.__file__)'
	@touch $@

setup: $(VENV)/.setup ## Create .venv, build and install at-core, install the services (idempotent)

lint: setup ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup ## ruff format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: setup ## mypy --strict on at-core (the contracts every service builds on)
	$(VENV)/bin/mypy --strict at-core/src/at_core

imports: setup ## import-linter: services never import each other; layers point inward
	$(VENV)/bin/lint-imports --config .importlinter

schemas: setup ## Regenerate at-core/schemas from the models
	$(VENV)/bin/at-core-schemas export --dir at-core/schemas

schemas-check: setup ## Fail on schema drift or a breaking contract change
	$(VENV)/bin/at-core-schemas check --dir at-core/schemas

test-packages: setup ## pytest in each package, one summary line each
	tools/test_packages.sh

test: setup lint typecheck imports schemas-check test-packages ## Everything CI runs

demo: setup ## Run the whole stack, replay scripted TradingView alerts, print each one's story
	$(PY) tools/demo.py

up: setup ## Run the whole stack and keep it running for real alerts (Ctrl-C stops it); Alertmanager too when installed
	@am=$$(command -v prometheus-alertmanager || command -v alertmanager || true); \
	if [ -n "$$am" ]; then \
	  mkdir -p var/alertmanager; \
	  $(VENV)/bin/at-alertmanager-config --out var/alertmanager/alertmanager.yml; \
	  "$$am" --config.file=var/alertmanager/alertmanager.yml --storage.path=var/alertmanager/data \
	    --web.listen-address=127.0.0.1:9093 --cluster.listen-address= >var/alertmanager/alertmanager.log 2>&1 & \
	  trap "kill $$! 2>/dev/null" EXIT; \
	  echo "alertmanager: http://127.0.0.1:9093 (log var/alertmanager/alertmanager.log)"; \
	else echo "alertmanager: not installed (apt-get install prometheus-alertmanager), not started"; fi; \
	$(PY) tools/demo.py --serve

bench-gateway: setup ## Gateway throughput and latency against a bare FastAPI ceiling
	$(PY) at-gateway/bench/bench_gateway.py

bench-exec: setup ## exec-sim events/s in-process and over NATS
	$(PY) at-exec-sim/bench/bench_exec.py

bench-e2e: setup ## Webhook-to-fill latency at a fixed rate, and the highest sustained rate
	$(PY) tools/bench_e2e.py

bench-burst: setup ## The e2e burst (1,000 alerts at 100/s): gateway answer times, CPU per process, settle time
	$(PY) tools/bench_burst.py

bench-console: setup ## Console page render times with 100,000 events in the audit store
	$(PY) at-obs/bench/bench_console.py

bench: bench-gateway bench-exec bench-e2e bench-burst bench-console bench-backtest ## Every benchmark, printed with same-run baselines

BACKTEST_DAYS ?= 5
bench-backtest: setup ## One-minute MES bars, an alert an hour, through agents and exec-sim: events/s (BACKTEST_DAYS=252 for a year)
	$(PY) -m at_obs.backtest.bench --days $(BACKTEST_DAYS)

clean: ## Remove the venv and build outputs
	rm -rf $(VENV) dist build var
