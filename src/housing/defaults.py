"""The stack's names, addresses and limits, each written once: every settings class reads its
default from here, and tests/unit/test_definitions.py checks that compose.yaml, the Dockerfile
and the workflows, which must spell some of them out, say the same.
"""

from __future__ import annotations

# The registered model and its aliases.
MODEL_NAME = "housing-price"
CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
EXPERIMENT_NAME = "housing"
# Where the monitor logs each pass (housing.monitor).
MONITORING_EXPERIMENT = "monitoring"

# Embedded default for a run without a server: a SQLite file in the working directory.
LOCAL_TRACKING_URI = "sqlite:///mlflow.db"
# The prediction log, embedded the same way (the stack sets PREDICTION_LOG_URL to its PostgreSQL).
LOCAL_PREDICTION_LOG_URL = "sqlite:///predictions.db"

# Where each service listens (inside the stack; compose publishes only the gateway and the UI).
LOCAL_HOST = "127.0.0.1"
GATEWAY_PORT = 8000
PREDICTOR_PORT = 8001
MONITOR_PORT = 8002
MLFLOW_PORT = 5000
# Prometheus metrics of each service, on a port of their own that no one publishes.
GATEWAY_METRICS_PORT = 9100
PREDICTOR_METRICS_PORT = 9101
MONITOR_METRICS_PORT = 9102

# Request limits shared by the gateway and the predictor.
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_RECORDS = 10_000

# The raw data set and its checksum (sha256 of the file as published).
DATA_URL = (
    "https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/housing.csv"
)
DATA_SHA256 = "8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e"

# Lineage tag that fingerprints the test split a run was scored on (compared by the gate).
TEST_SPLIT_TAG = "data.test_sha256"
# ... and the training split it was fitted on (the monitor's reference is built from it).
TRAIN_SPLIT_TAG = "data.train_sha256"

# Model version tag: the sha256 of the version's .skops file, set when the version is registered;
# the predictor serves no file whose digest differs.
MODEL_SHA256_TAG = "model_sha256"
