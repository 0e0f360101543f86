# modelscaler — the commands a developer and CI run. `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLUSTER := $(BIN)/python hack/cluster.py

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv with the package and its test tools

sandbox: $(STAMP) ## bring up cluster, Prometheus, operator, demo models under traffic, and show them scaling
	$(BIN)/python hack/sandbox.py up $(SANDBOX_ARGS)

sandbox-down: $(STAMP) ## stop everything the sandbox started
	$(BIN)/python hack/sandbox.py down $(SANDBOX_ARGS)

test: $(STAMP) ## run every test: unit, integration and end-to-end (builds the cluster binaries on first use)
	$(BIN)/python -m pytest tests -q

test-unit: $(STAMP) ## run the fast unit tests only (no cluster)
	$(BIN)/python -m pytest tests/unit -q

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check operator tests hack benchmarks
	$(BIN)/ruff format --check operator tests hack benchmarks
	$(BIN)/mypy

crd: $(STAMP) ## regenerate crds/ and the chart's copy from the pydantic models
	$(BIN)/python -m modelscaler.api.crd --write

binaries: ## build (once) and cache the local cluster's binaries
	hack/build-binaries.sh

cluster-up: $(STAMP) ## start the local control plane (kwok) and Prometheus
	$(CLUSTER) up

cluster-down: $(STAMP) ## stop the local control plane and Prometheus
	$(CLUSTER) down

cluster-status: $(STAMP) ## show what the local cluster runs
	$(CLUSTER) status

.PHONY: help venv sandbox sandbox-down test test-unit lint crd binaries cluster-up cluster-down cluster-status
