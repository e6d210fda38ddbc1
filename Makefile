# msk-autoheal — every task a developer or CI runs. `make` alone lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
# cargo-lambda and zig come from the venv (pip), so `cargo lambda` must find them on PATH.
export PATH := $(VENV)/bin:$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
export CARGO_TERM_COLOR ?= never

# All Lambda packages: built together in one cargo-lambda invocation.
LAMBDAS := detector assess scale kafka-ops notify approval approval-request
LAMBDA_PKGS := $(foreach f,$(LAMBDAS),-p $(f))

.PHONY: help setup build test lint fmt-check clippy test-rust test-integration validate demo bench deploy clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([^:]+):.*## (.*)/  \1\t\2/' | expand -t 22

setup: ## install everything the build, tests and demo need (apt, venvs, npm tools, rust target, Kafka jars)
	scripts/setup.sh all

build: setup ## cross-build every Lambda for arm64 in one cargo lambda invocation
	cargo lambda build --release --arm64 $(LAMBDA_PKGS)

lint: fmt-check clippy ## rustfmt check and clippy with warnings denied

fmt-check:
	cargo fmt --all -- --check

clippy: setup
	cargo clippy --workspace --all-targets --locked -- -D warnings

test-rust: setup ## unit, property and handler tests of the whole workspace
	cargo test --workspace --locked

test-integration: setup ## integration and end-to-end tests against moto and a real Kafka
	$(PY) -m pytest -q tests

test: setup lint test-rust test-integration ## every test (what CI runs)

demo: setup ## the local default: real Kafka + emulated AWS, detect → scale → rebalance → healed
	$(PY) -m local.demo

bench: setup ## benchmarks behind BENCHMARKS.md

deploy: build ## sam deploy (guided the first time)

clean: ## remove build output and local state (keeps the venvs and caches)
	cargo clean
	rm -rf .aws-sam out demo-report.json
