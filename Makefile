# The commands a person and CI run; CI (.ci/run, .github/workflows) calls these targets verbatim.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: help install data pipeline demo test lint diagram clean bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: $(VENV)/.installed  ## create .venv with every pinned dependency
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

data: install  ## fetch data/raw/housing.csv (HOUSING_DATA_URL, sha256-checked)
	housing data fetch

pipeline: data  ## dvc repro: prepare, train, evaluate, register (embedded MLflow by default)
	dvc repro

demo: pipeline  ## the main job: the pipeline, then the MLflow UI, predictor and gateway
	@bash scripts/demo.sh

test: install  ## the test suite (starts its own PostgreSQL, moto S3 and MLflow servers)
	pytest -q

lint: install  ## ruff
	ruff check src services tests bench
	ruff format --check src services tests bench

diagram: images/architecture.png  ## render the architecture diagram
images/architecture.png: docs/architecture.dot
	dot -Tpng -Gdpi=110 $< -o $@

clean:  ## remove pipeline outputs and the local MLflow store (not the raw data)
	rm -rf data/prepared models metrics mlflow.db mlruns mlartifacts .dvc/cache

bench: pipeline  ## predictor and gateway vs `mlflow models serve` (writes bench/results/bench.json)
	python bench/run.py
