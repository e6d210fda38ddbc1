# msk-autoheal — every task a developer or CI runs. `make` alone lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
SAM := $(ROOT)/.venv-sam/bin/sam
# cargo-lambda and zig come from the venv (pip), so `cargo lambda` must find them on PATH.
export PATH := $(VENV)/bin:$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
export CARGO_TERM_COLOR ?= never

# All Lambda packages: built together in one cargo-lambda invocation.
LAMBDAS := detector assess scale kafka-ops notify approval approval-request safety-net
LAMBDA_PKGS := $(foreach f,$(LAMBDAS),-p $(f))
# pytest: -rs lists every skipped test with its reason (a skip must never pass unnoticed).
PYTEST := $(PY) -m pytest -q -rs -p no:cacheprovider

.PHONY: help setup build lint fmt-check clippy test-rust test-iac test-integration test validate demo bench deploy clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([^:]+):.*## (.*)/  \1\t\2/' | expand -t 20

setup: ## install everything the build, tests and demo need (apt, venvs, npm tools, rust target, Kafka jars)
	scripts/setup.sh all

build: setup ## cross-build every Lambda for arm64 (Graviton) in one cargo lambda invocation
	cargo lambda build --release --arm64 --locked $(LAMBDA_PKGS)

lint: fmt-check clippy ## rustfmt check and clippy with warnings denied

fmt-check: ## rustfmt check only
	cargo fmt --all -- --check

clippy: setup ## clippy over every crate and test, warnings denied
	cargo clippy --workspace --all-targets --locked -- -D warnings

test-rust: setup ## unit, property and handler tests of the whole workspace
	cargo test --workspace --locked

test-iac: build ## template, ASL, policies, Terraform, sam build (reuses the arm64 build)
	$(PYTEST) tests/infra

test-integration: setup ## the local stack, moto and real-Kafka integration and end-to-end tests
	$(PYTEST) tests/local tests/integration

test: setup lint test-rust test-iac test-integration ## every test (what CI runs)

validate: build ## validate the deployable stack (sam validate --lint, cfn-lint, asl-validator, checkov, terraform, policies, sam build)
	scripts/validate.sh all

demo: setup ## the local default: real Kafka + emulated AWS, overloaded → detected → scaled → rebalanced → healed (MODE=approval to approve by hand)
	$(PY) -m local.demo $(if $(MODE),--mode $(MODE))

bench: setup ## re-measure BENCHMARKS.md: planner, stress-producer vs perf-test, Lambda size and cold start
	cargo bench -p autoheal-planner --bench planner -- --write BENCHMARKS.md
	$(PY) stress-producer/bench.py --records 150000 --rounds 5 --engines "callback,callback --partitioner librdkafka,callback --producers 1 --partitioner librdkafka"
	$(PY) tests/infra/bench_lambda.py --write BENCHMARKS.md

deploy: build ## sam build + sam deploy (guided the first time, then samconfig.toml)
	$(SAM) build
	if [ -f .aws-sam/deploy-done ]; then $(SAM) deploy; else $(SAM) deploy --guided && touch .aws-sam/deploy-done; fi

clean: ## remove build output and local state (keeps the venvs and caches)
	cargo clean
	rm -rf .aws-sam out demo-report.json demo-*.svg .cache/local-stack .cache/demo
