# Hookpost developer tasks. Everything a target needs is installed by `make venv` (scripts/bootstrap.sh),
# which the targets that need Python tools run first.
#
#   make demo    the whole pipeline on this machine, with its trace
#   make test    what CI runs: fmt, clippy, template checks, unit, browser and integration tests
#   make help    every target

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := $(CURDIR)/.venv
# The venv's tools (moto_server, sam, cfn-lint, cargo-lambda) come first for every recipe.
export PATH := $(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0

CARGO ?= cargo
PYTHON := $(VENV)/bin/python
# `make local ARGS='--port 3001 --max-receive-count 3 --retry-delays 1s,2s,4s'`
ARGS ?=
# sam validate/build read no credentials but want a region.
SAM_ENV := AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-$${AWS_REGION:-us-east-1}}

.PHONY: help venv browser fmt-check fmt clippy unit integration integration-localstack chaos chaos-short chaos-localstack template openapi test demo demo-console local watch sam-build baselines bench coldstart fuzz clean distclean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

venv: ## Install the Python tooling into .venv (pinned; instant when up to date)
	@scripts/bootstrap.sh

# Only the browser tests need it, so `make demo` and friends never pay for it.
browser: ## Install headless Chromium and chromedriver from the distribution's packages (instant when present)
	@scripts/browser.sh

fmt-check: ## cargo fmt --check
	$(CARGO) fmt --all -- --check

fmt: ## Format the workspace
	$(CARGO) fmt --all

clippy: ## Clippy on every target, warnings are errors
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every cargo command from here to chaos selects the whole workspace with its tests, so they
# share one feature resolution and compile each crate once (`-p hookpost-tests` or `cargo build
# -p hookpost-cli` would each resolve other features and rebuild the SDK). The integration and
# chaos targets are `test = false` (tests/Cargo.toml): `--tests` leaves them out, `--test` names them.
WORKSPACE_BUILD := $(CARGO) build --workspace --bins --tests

unit: ## Unit tests and the CLI's binary tests (no emulator)
	$(CARGO) test --workspace --lib --bins --tests

integration: venv browser ## Integration tests against a private moto server, the browser tests in headless Chromium (the CLI's tests run the built binary)
	$(WORKSPACE_BUILD)
	scripts/with-moto.sh $(CARGO) test --workspace --test integration

# The same suite with SQS, S3, SNS, EventBridge and CloudFormation on LocalStack (host mode, from
# its pinned venv) and DynamoDB on moto beside it (scripts/with-localstack.sh, docs/local.md).
integration-localstack: venv browser ## The integration suite on LocalStack (DynamoDB on moto beside it)
	$(WORKSPACE_BUILD)
	scripts/with-localstack.sh $(CARGO) test --workspace --test integration

# The chaos run (issue 7, docs/reliability.md): signed events through the local stack with a fault
# proxy between the functions and moto; the figures go to stdout and target/chaos/.
CHAOS_EVENTS ?= 10000
CHAOS_SHORT_EVENTS ?= 2000
# 1: an acknowledged event called again with no cause in the run's evidence fails the run (see
# tests/chaos/main.rs); the short run in `make test` prints such calls instead.
CHAOS_STRICT ?= 1
# CHAOS_EMULATOR=localstack runs it on LocalStack with DynamoDB on moto.
CHAOS_EMULATOR ?= moto
CHAOS_LOCALSTACK_EVENTS ?= 500
chaos: venv ## Chaos run: CHAOS_EVENTS (10000) events under injected SQS/DynamoDB faults; figures in target/chaos/
	$(WORKSPACE_BUILD)
	HOOKPOST_CHAOS_EVENTS=$(CHAOS_EVENTS) HOOKPOST_CHAOS_STRICT=$(CHAOS_STRICT) \
	  HOOKPOST_CHAOS_COMMAND="make chaos CHAOS_EVENTS=$(CHAOS_EVENTS) CHAOS_EMULATOR=$(CHAOS_EMULATOR)" \
	  scripts/with-$(CHAOS_EMULATOR).sh $(CARGO) test --workspace --test chaos -- --nocapture

chaos-short: ## The chaos run with CHAOS_SHORT_EVENTS (2000) events, as part of make test
	@$(MAKE) chaos CHAOS_EVENTS=$(CHAOS_SHORT_EVENTS) CHAOS_STRICT=0

chaos-localstack: ## The chaos run on LocalStack (DynamoDB on moto) with CHAOS_LOCALSTACK_EVENTS (500) events, as part of make test
	@$(MAKE) chaos CHAOS_EVENTS=$(CHAOS_LOCALSTACK_EVENTS) CHAOS_STRICT=0 CHAOS_EMULATOR=localstack

template: venv ## sam validate --lint, cfn-lint, the SAM transform itself, no IAM wildcards, docs/api/openapi.json is OpenAPI 3.1
	$(SAM_ENV) sam validate --lint
	cfn-lint template.yaml
	$(SAM_ENV) $(PYTHON) scripts/sam-transform.py template.yaml
	$(PYTHON) scripts/check-iam.py --self-test
	$(PYTHON) scripts/check-iam.py template.yaml
	$(PYTHON) scripts/check-openapi.py --self-test docs/api/openapi.json
	$(PYTHON) scripts/check-openapi.py docs/api/openapi.json

# The committed document is checked against the handlers by `cargo test -p hookpost-api --test openapi`.
openapi: venv ## Regenerate docs/api/openapi.json from the API's handlers, then validate it as OpenAPI 3.1
	UPDATE_OPENAPI=1 $(CARGO) test -p hookpost-api --test openapi -- the_committed_openapi_document_is_the_generated_one
	$(PYTHON) scripts/check-openapi.py docs/api/openapi.json

# Ordered and fail-fast even under `make -j`: cheap checks before long builds.
test: ## Everything CI runs, in order: venv fmt-check clippy template unit browser integration integration-localstack chaos-short chaos-localstack
	@for t in venv fmt-check clippy template unit browser integration integration-localstack chaos-short chaos-localstack; do \
	  echo "==> make $$t"; \
	  $(MAKE) $$t || { echo "==> make $$t FAILED" >&2; exit 1; }; \
	done
	@echo "==> make test: all checks passed"

demo: venv ## Run the pipeline end to end locally and print its trace
	$(CARGO) run -q -p hookpost-cli --bin hookpost -- demo

demo-console: venv ## The demo, then `hookpost console` over its stack (opens a browser; Ctrl+C stops both)
	$(CARGO) run -q -p hookpost-cli --bin hookpost -- demo --console

local: venv ## Run the local stack in the foreground (ARGS='--port 3000 ...')
	$(CARGO) run -p hookpost-cli --bin hookpost -- local up $(ARGS)

watch: venv ## cargo lambda watch against the running local stack (start `make local` first)
	scripts/watch.sh $(ARGS)

sam-build: venv ## sam build for x86_64 (this machine has no aarch64 standard library)
	$(SAM_ENV) sam build --parameter-overrides Architecture=x86_64

# One build for everything `make bench` runs: the criterion benches, the pipeline and cold-start
# benches, and (cargo builds a package's binaries for its benches and integration tests) the
# receiver, dispatcher, API and hello bootstraps the cold-start bench measures. Every command below
# selects the same packages, so they share one feature resolution and nothing is compiled twice;
# from a clean clone the build is most of make bench's time (fat LTO, as deployed, on every binary).
BENCH_PACKAGES := -p hookpost-shared -p hookpost-pattern -p hookpost-receiver -p hookpost-dispatcher -p hookpost-api -p hookpost-bench-tools
CRITERION_BENCHES := --bench verify --bench handler --bench dispatch --bench matching
# The API has no benchmark: building its OpenAPI test (never run here) is what builds its bootstrap.
API_BOOTSTRAP := --test openapi
# Criterion's times per benchmark: `make bench BENCH_ARGS='--measurement-time 10'` for steadier figures.
BENCH_ARGS ?= --warm-up-time 0.5 --measurement-time 1.5
# What users would run instead, for the cold-start bench (issue 19): the same GitHub receiver in
# Python 3.12 on boto3 under awslambdaric, and in Node.js 20 on the AWS SDK v3 under aws-lambda-ric
# (whose native build needs cmake, autoconf, automake and libtool: installed with apt-get when
# missing). Into $(CARGO_TARGET_DIR)/baselines (target/baselines), pinned; instant when up to date.
baselines: ## Install the cold-start bench's Python and Node.js receivers (pinned; instant when up to date)
	@bench/baselines/install.sh

bench: venv baselines ## Criterion benchmarks (signature verification, receiver handler, dispatcher), the Python baseline, the local pipeline, cold start beside Python and Node.js receivers, then bench/results.json and docs/benchmarks.md
	$(CARGO) bench $(BENCH_PACKAGES) $(CRITERION_BENCHES) --bench pipeline --bench coldstart $(API_BOOTSTRAP) --no-run
	$(CARGO) bench $(BENCH_PACKAGES) $(CRITERION_BENCHES) -- $(BENCH_ARGS)
	python3 bench/baselines/bench_receiver.py
	$(CARGO) bench $(BENCH_PACKAGES) --bench pipeline
	$(CARGO) bench $(BENCH_PACKAGES) --bench coldstart -- $(COLDSTART_ARGS)
	python3 bench/report.py

# Starts per function: `make coldstart COLDSTART_ARGS='--runs 51'`; `--variant LABEL=DIR` adds
# bootstraps built elsewhere, `--no-baselines` leaves the Python and Node.js receivers out (see
# bench/tools/benches/coldstart/main.rs).
COLDSTART_ARGS ?= --runs 21
coldstart: venv baselines ## Cold start (spawn -> first /next), first and warm invocation, peak RSS, zip size of the bootstraps beside a bare hello and Python/Node.js receivers: target/bench/coldstart.json
	$(CARGO) bench $(BENCH_PACKAGES) --bench handler --bench dispatch --bench coldstart $(API_BOOTSTRAP) --no-run
	$(CARGO) bench $(BENCH_PACKAGES) --bench coldstart -- $(COLDSTART_ARGS)

# Seconds per fuzz target: `make fuzz FUZZ_SECONDS=600` for a longer run.
FUZZ_SECONDS ?= 60
fuzz: ## Fuzz every parser and scheme for FUZZ_SECONDS (60) each, at nice 19; not part of `make test`
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

clean: ## Remove build output, SAM artifacts and local-stack state (keeps .venv)
	$(CARGO) clean
	rm -rf .aws-sam .hookpost

distclean: clean ## Also remove the Python venvs
	rm -rf .venv .venv-localstack
