# sqs-batch-consumer: the front door. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# ---- Lambda package target (defaults match the Terraform defaults) ----------------------
ARCH ?= arm64
PYTHON_VERSION ?= 3.12
PACKAGE_OUT ?= dist/function.zip

# The zip for this machine's architecture (`--arch host`): the local cloud runs it natively.
LOCAL_PACKAGE := dist/function-local.zip

# ---- Python import roots: the handler (function/) and the tool packages (scripts/) ---------
# Set once, here: every tool runs as `python -m <package>` (see README, "Where things are").
# `make venv` also writes them into the tooling venv (a .pth file), so `.venv/bin/python -m
# sbc_tools.ops.publish` works from a shell as well.
IMPORT_ROOTS := $(CURDIR)/function $(CURDIR)/scripts
export PYTHONPATH := $(subst $(eval) ,:,$(IMPORT_ROOTS))

# ---- Tooling virtual environment ---------------------------------------------------------
DEV_PYTHON_VERSION ?= 3.12
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed

# ---- Terraform: scripts/tf/tf.sh finds a provider mirror itself (TF_PLUGIN_DIR overrides) ----
TF := scripts/tf/tf.sh

.PHONY: help
help: ## List the targets (bold names only on a terminal)
	@if [ -t 1 ]; then on=$$'\033[1m' off=$$'\033[0m'; else on= off=; fi; \
	  grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' -v on="$$on" -v off="$$off" '{printf "  %s%-18s%s %s\n", on, $$1, off, $$2}'

$(VENV_STAMP): requirements-dev.txt
	@interpreter=$$(scripts/find_python.sh $(DEV_PYTHON_VERSION)); \
	  [ -x $(PY) ] || { echo "==> creating $(VENV) with $$interpreter"; "$$interpreter" -m venv $(VENV); }
	@echo "==> installing tooling into $(VENV)"
	@# Every package pinned with hashes (make lock); the handler's runtime dependencies at the
	@# versions of function/requirements.txt. pip installs the pinned uv alone (its hashes taken
	@# from the lock), uv the rest: from PyPI, as the locks were made, in parallel (seconds, not
	@# minutes, from a clean clone).
	@mkdir -p .cache
	@awk '/^uv==/ { keep = 1; print; next } keep && /^ +--hash/ { print; next } { keep = 0 }' \
	  requirements-dev.txt > .cache/requirements-uv.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r .cache/requirements-uv.txt
	@$(VENV)/bin/uv pip install --quiet --python $(PY) --require-hashes -r requirements-dev.txt
	@printf '%s\n' $(IMPORT_ROOTS) > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/sqs_batch_consumer_roots.pth"
	@touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## Create the tooling virtual environment (.venv)

# ---- Pinned requirements: each .in compiled by uv into its .txt, every package with hashes ----
# Every lock resolves against PyPI (https://pypi.org/simple) only, whatever index the machine's
# pip or uv is configured with. What each covers:
#   function/requirements.txt      the zip: CPython 3.12 and 3.13 wheels for manylinux2014
#                                  x86_64 and aarch64 only (python -m locking keeps those hashes)
#   requirements-dev.txt, scripts/tf/requirements-checkov.txt, requirements-runtime.txt
#                                  Python 3.12, every platform (--universal: all files' hashes)
#   requirements-localstack.txt    Python 3.13 on Linux, all files' hashes
# Re-locking keeps the pinned versions (uv reads the existing .txt) and writes the same hashes;
# UPGRADE=1 moves to the newest versions the .in files allow.
EXECUTOR := scripts/localcloud/localstack_host_executor
LOCK = $(VENV)/bin/uv pip compile --quiet --generate-hashes --custom-compile-command "make lock" \
  --default-index https://pypi.org/simple $(if $(UPGRADE),--upgrade)

.PHONY: lock
lock: $(VENV_STAMP) ## Re-lock every requirements file from its .in with uv (UPGRADE=1: newest)
	@mkdir -p .cache
	$(subst --generate-hashes ,,$(LOCK)) --universal --python-version 3.12 function/requirements.in \
	  -o .cache/pylock.function.toml
	$(LOCK) --universal --python-version 3.12 function/requirements.in -o function/requirements.txt
	$(PY) -m locking function/requirements.txt --pylock .cache/pylock.function.toml --target lambda
	$(LOCK) --universal --python-version 3.12 requirements-dev.in -o requirements-dev.txt
	$(LOCK) --universal --python-version 3.12 scripts/tf/requirements-checkov.in -o scripts/tf/requirements-checkov.txt
	$(LOCK) --universal --python-version 3.12 $(EXECUTOR)/requirements-runtime.in -o $(EXECUTOR)/requirements-runtime.txt
	$(LOCK) --python-version 3.13 --python-platform linux $(EXECUTOR)/requirements-localstack.in -o $(EXECUTOR)/requirements-localstack.txt

# ---- Quality -----------------------------------------------------------------------------
.PHONY: lint
lint: $(VENV_STAMP) ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# SKIP_TERRAFORM_HOOKS=1 leaves out the hooks that `make test-terraform` repeats (make test).
TERRAFORM_HOOKS := terraform-fmt,terraform-docs-tables,terraform-validate-examples
.PHONY: hooks
hooks: $(VENV_STAMP) ## Every pre-commit hook on every file (lint, whitespace, merge markers, terraform fmt/validate, docs)
	SKIP=$(if $(SKIP_TERRAFORM_HOOKS),$(TERRAFORM_HOOKS),$(SKIP)) \
	  $(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

.PHONY: format
format: $(VENV_STAMP) ## Format Python and Terraform code in place
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	terraform fmt -recursive terraform

# ---- Tests -------------------------------------------------------------------------------
# `make test`: the LocalStack integration run (about three quarters of a core, mostly waiting)
# starts at once; beside it, at a lower priority, two chains of CPU suites: lint, then the fast
# suites on every core (pytest-xdist); the package tests, then the Terraform checks. One line
# per suite as it ends, the logs of the integration run and the Terraform checks, then where
# the time went.
SUITES := scripts/testing/suites.sh
XDIST ?= auto
# `make test-fast` runs alone: twice as many workers as cores, as many of its tests wait on a
# local HTTP server or SQS (measured here: 2 workers 79 s, 4 workers 58 s on 2 cores).
FAST_XDIST ?= $(shell echo $$(( $$(nproc) * 2 )))
FAST_SUITES := tests/unit tests/handler tests/tools tests/sim
# The CPU suites yield to the integration run's own CPU work (LocalStack, applies): its setup
# is on the critical path, the CPU suites fill the time its tests spend waiting.
NICE := nice -n 10
# CI runs every pre-commit hook (a superset of `make lint`) instead of lint, but for the
# Terraform ones: test-terraform runs fmt, the docs check and the examples' plans itself.
LINT := $(if $(CI),hooks,lint)

.PHONY: test
test: $(VENV_STAMP) ## Run every test (lint, unit, package, Terraform, LocalStack integration), side by side
	@SHOW=integration,builds $(SUITES) \
	  "integration=$(MAKE) test-integration" \
	  "checks=$(NICE) $(MAKE) $(LINT) SKIP_TERRAFORM_HOOKS=1,$(NICE) $(MAKE) test-unit" \
	  "builds=$(NICE) $(MAKE) test-package,$(NICE) $(MAKE) test-terraform"
	@echo "==> all tests passed"

.PHONY: test-fast
test-fast: $(VENV_STAMP) ## Lint beside the unit and handler tests (what to run before a commit)
	@$(SUITES) "lint=$(MAKE) lint" \
	  "unit=$(PY) -m pytest -q -n $(FAST_XDIST) -p no:cacheprovider tests/unit tests/handler"

.PHONY: test-unit
test-unit: $(VENV_STAMP) ## Unit, handler, tool and simulator tests on every core (local entity API server, moto SQS)
	$(PY) -m pytest -n $(XDIST) $(FAST_SUITES)

.PHONY: test-package
test-package: $(VENV_STAMP) ## Build both zips and check them (determinism, contents, import); the tools wheel in a fresh venv
	$(PY) -m pytest -n $(XDIST) --dist loadgroup tests/package

.PHONY: test-terraform
test-terraform: $(VENV_STAMP) ## terraform fmt/validate/test (offline, mock providers), docs check, checkov
	scripts/tf/test.sh

.PHONY: test-integration integration
test-integration: integration
integration: $(VENV_STAMP) ## Whole stack in LocalStack: package, apply, integration tests, destroy
	scripts/localcloud/integration.sh

# ---- Build -------------------------------------------------------------------------------
.PHONY: package
package: $(VENV_STAMP) ## Build the Lambda zip (ARCH=arm64|x86_64 PYTHON_VERSION=3.12|3.13 PACKAGE_OUT=...)
	$(PY) -m lambda_package --arch $(ARCH) --python-version $(PYTHON_VERSION) --output $(PACKAGE_OUT)

.PHONY: package-local
package-local: $(VENV_STAMP) ## Build the zip for this machine's architecture (what LocalStack runs)
	$(PY) -m lambda_package --arch host --python-version $(PYTHON_VERSION) --output $(LOCAL_PACKAGE)

.PHONY: docs
docs: $(VENV_STAMP) ## Regenerate the inputs/outputs tables of the Terraform READMEs
	$(PY) -m tf.docs --write

# ---- Benchmarks --------------------------------------------------------------------------
.PHONY: bench
bench: $(VENV_STAMP) ## Handler, package and simulator benchmarks (figures printed, ratios against baselines)
	$(PY) -m bench.handler
	$(PY) -m bench.package
	$(PY) -m sim bench

# ---- Simulator and capacity planner (scripts/sim, docs/simulator.md) -----------------------
SCENARIO ?= million-burst

.PHONY: simulate
simulate: $(VENV_STAMP) ## Simulate a scenario at AWS scale (SCENARIO=million-burst|seed-burst|outage|rate-drop)
	$(PY) -m sim simulate $(SCENARIO)

.PHONY: plan-capacity
plan-capacity: $(VENV_STAMP) ## Sweep batch size, window, concurrency, governor; print the cheapest .tfvars (SCENARIO=...)
	$(PY) -m sim plan $(SCENARIO)

.PHONY: bench-e2e
bench-e2e: $(VENV_STAMP) ## Publish-to-applied throughput and latency through LocalStack
	scripts/bench/e2e.sh

# ---- Local cloud (LocalStack on this machine) ----------------------------------------------
.PHONY: bench-fanout
bench-fanout: $(VENV_STAMP) ## Fan-out through LocalStack at K = 1, 4, 12 and with the governor, against a 20 requests/s token bucket
	scripts/bench/fanout.sh

.PHONY: bench-outage
bench-outage: $(VENV_STAMP) ## Recovery after a 3-minute API outage through LocalStack: drain after it vs the normal drain, requests and receives during it
	scripts/bench/outage.sh

.PHONY: demo
demo: $(VENV_STAMP) ## Set up LocalStack, apply the stack, publish 2,000 messages, print the report (FIFO=1: on FIFO queues; CONCURRENCY=N: invocations at once)
	scripts/localcloud/demo.sh

.PHONY: down
down: ## Stop LocalStack (the demo stack goes with it) and the entity API server
	@[ -x $(PY) ] || { echo "nothing to stop: no $(VENV) yet, so nothing was started"; exit 0; }; \
	  scripts/localcloud/demo.sh down

.PHONY: up
up: $(VENV_STAMP) ## Start LocalStack only (see `make status`)
	$(PY) -m localcloud start

.PHONY: status
status: ## Show whether LocalStack and the entity API server are running
	@[ -x $(PY) ] || { echo "nothing running: no $(VENV) yet (make demo sets everything up)"; exit 0; }; \
	  $(PY) -m localcloud status

.PHONY: report
report: $(VENV_STAMP) ## Print the report of the current local run
	$(PY) -m sbc_tools.ops.report $(ARGS)

.PHONY: redrive
redrive: $(VENV_STAMP) ## Move DLQ messages back to the source queue (ERROR_CODE=... to filter)
	$(PY) -m sbc_tools.ops.redrive $(if $(ERROR_CODE),--error-code $(ERROR_CODE)) $(ARGS)

.PHONY: publish
publish: $(VENV_STAMP) ## Publish generated changes to the local stack's queue (ARGS="--count 500 ...")
	$(PY) -m sbc_tools.ops.publish $(ARGS)

.PHONY: logs
logs: $(VENV_STAMP) ## Show the consumer function's CloudWatch Logs (ARGS=-f to follow)
	$(PY) -m sbc_tools.ops.logs $(ARGS)

.PHONY: localcloud
localcloud: $(VENV_STAMP) ## The local cloud's own CLI (ARGS="logs -f", "env", "stop --all", ...)
	$(PY) -m localcloud $(ARGS)

.PHONY: clean
clean: ## Remove build output and caches (keeps .venv)
	rm -rf dist build .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find terraform -name .terraform -type d -prune -exec rm -rf {} +
