# The commands a person and CI run; CI (.ci/run, .github/workflows) calls these targets verbatim.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

# The sandbox's local stand-ins for upstream images, when present (see ../shared/sandbox).
SANDBOX_IMAGES := $(wildcard ../shared/sandbox/images.env)
ifneq ($(SANDBOX_IMAGES),)
include $(SANDBOX_IMAGES)
export PYTHON_IMAGE POSTGRES_IMAGE S3_IMAGE CADDY_IMAGE PROMETHEUS_IMAGE DIND_IMAGE
endif

.PHONY: help install lock native data pipeline demo test lint diagram clean bench e2e stack-up stack-down deploy-test chaos swarm-test check-e2e check-chaos check-deploy-test check-swarm-test

help:  ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# uv installs exactly what uv.lock holds (transitive dependencies included, with hashes), on the
# Python that pyproject.toml's requires-python names; it never downloads an interpreter.
UV := $(abspath .tools)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
# Bytecode compiled at install, as pip does: with PYTHONDONTWRITEBYTECODE set, nothing would ever
# write it, and every start would compile the imports again (seconds for the predictor).
export UV_COMPILE_BYTECODE := 1

install: $(VENV)/.installed native  ## create .venv from uv.lock (every dependency pinned and hashed)
$(UV): pyproject.toml scripts/install-uv.sh
	scripts/install-uv.sh .tools
$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --extra dev
	touch $@

lock: $(UV)  ## re-resolve uv.lock after a change to pyproject.toml's dependencies
	$(UV) lock

NATIVE := src/housing/model/_kernels.so
native: $(NATIVE)  ## compile the predictor's C kernels (optional: numpy without a compiler)
$(NATIVE): src/housing/model/leaf_tables.c src/housing/model/feature_kernels.c scripts/build-native.sh
	scripts/build-native.sh

data: install  ## fetch data/raw/housing.csv (HOUSING_DATA_URL, sha256-checked)
	housing data fetch

pipeline: data  ## dvc repro: prepare, train, evaluate, report, register (embedded MLflow by default)
	dvc repro

demo: pipeline  ## the main job: the pipeline, then the MLflow UI, predictor, gateway and monitor
	scripts/demo.sh

test: install  ## the test suite (starts its own PostgreSQL, moto S3 and MLflow servers)
	pytest -q --durations=15 --ignore=tests/e2e --ignore=tests/swarm --deselect tests/deploy/test_deploy_rollback.py \
	  --deselect tests/deploy/test_aws_override.py \
	  --deselect tests/deploy/test_imds_guard.py

stack-up: install  ## build and start the compose stack (.env gets fresh secrets if absent)
	scripts/dev-env.sh
	docker compose up -d --build --wait --wait-timeout 900

stack-down:  ## stop the compose stack (volumes kept; `docker compose down -v` drops them)
	docker compose down

# A higher rate limit, in records: the e2e and chaos load clients send batches of up to
# 2,000 records back to back, far more than a person would. The first model
# has a third of params.yaml's trees, so that retraining with params.yaml's own is a better
# model for sure (tests/e2e/test_2_retrain.py), and the stack comes up sooner; its
# cross-validation (which calibrates the intervals) has two folds, not five: two fits fewer.
e2e: export GATEWAY_RATE_PER_S ?= 1000000
e2e: export GATEWAY_RATE_BURST ?= 2000000
e2e: export TRAIN_PARAMS ?= train.max_iter=150,train.cv_folds=2
# A small buffer, so that the prediction log's outage in chaos overflows it (tests/e2e/test_5).
e2e: export PREDICTION_LOG_BUFFER_ROWS ?= 500
# A monitoring pass every few seconds, so that tests/e2e/test_1b_monitor.py sees its traffic.
e2e: export MONITOR_INTERVAL_S ?= 3
# The challenger scored in shadow (tests/e2e/test_2b_shadow.py).
e2e: export PREDICTOR_SHADOW_ALIAS ?= challenger
# Each heavy suite first checks what it needs (Docker, sshd, docker-registry, images): a line
# for each missing thing, in seconds, before anything is installed or built.
check-e2e check-chaos check-deploy-test check-swarm-test:
	scripts/check-suite.sh $(@:check-%=%)

e2e: check-e2e data stack-up  ## the compose stack for real: prediction, retraining, persistence, shape
	HOUSING_E2E=1 pytest -q -s --durations=10 tests/e2e/test_1_stack.py tests/e2e/test_1b_monitor.py \
	  tests/e2e/test_2_retrain.py tests/e2e/test_2b_shadow.py \
	  tests/e2e/test_2c_feedback_retrain.py tests/e2e/test_3_persistence.py

chaos: export GATEWAY_RATE_PER_S ?= 1000000
chaos: export GATEWAY_RATE_BURST ?= 2000000
chaos: export PREDICTION_LOG_BUFFER_ROWS ?= 500
chaos: check-chaos data stack-up  ## faults under load, fuzzing, bad bodies, keys, hardening (prints each figure)
	HOUSING_E2E=1 pytest -q -s --durations=10 tests/e2e/test_4_hostile.py tests/e2e/test_5_faults.py tests/e2e/test_6_hardening.py

deploy-test: check-deploy-test install  ## deploy_to_ec2.sh against a local sshd + registry; the AWS override
	HOUSING_DEPLOY_TEST=1 pytest -q -s --durations=10 tests/deploy/test_deploy_rollback.py tests/deploy/test_aws_override.py \
	  tests/deploy/test_imds_guard.py

# promtool of the stack's own Prometheus image, with its config as compose mounts it and the tree.
PROMTOOL := docker compose run --rm --no-deps -T -v "$(CURDIR):/src:ro" -w /src --entrypoint promtool prometheus
lint: install  ## uv.lock in step, ruff, hadolint, shellcheck, actionlint, compose config, alert rules
	$(UV) lock --check
	ruff check src services tests bench scripts deploy
	ruff format --check src services tests bench scripts deploy
	hadolint Dockerfile
	shellcheck scripts/*.sh deploy/*.sh .ci/run
	actionlint
	docker compose config -q
	$(PROMTOOL) check config /etc/prometheus/prometheus.yml
	$(PROMTOOL) test rules tests/prometheus/alerts_test.yml

diagram: images/architecture.png images/swarm.png  ## render the architecture diagrams
images/%.png: docs/%.dot
	dot -Tpng -Gdpi=110 $< -o $@

clean:  ## remove pipeline outputs and the local MLflow store (not the raw data)
	rm -rf data/prepared models metrics mlflow.db mlruns mlartifacts .dvc/cache predictions.db*

bench: pipeline  ## predictor and gateway vs `mlflow models serve` (writes bench/results/bench.json)
	python -m bench.run

swarm-test: check-swarm-test install  ## the swarm stack on three Docker engines in containers: deploy, updates, faults
	HOUSING_SWARM_TEST=1 pytest -q -s --durations=10 tests/swarm
