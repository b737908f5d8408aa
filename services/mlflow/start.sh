#!/bin/sh
# Wait for the stores, migrate the schema, then serve. Every value comes from the environment
# (compose.yaml passes them). The store's URI holds the database password: `mlflow server` reads it
# from MLFLOW_BACKEND_STORE_URI itself, so it never appears on a command line (/proc/*/cmdline).
set -eu
python /app/prepare_stores.py
exec mlflow server \
  --serve-artifacts \
  --artifacts-destination "s3://${MLFLOW_BUCKET}/artifacts" \
  --host 0.0.0.0 \
  --port "$MLFLOW_PORT" \
  --workers "${MLFLOW_WORKERS:-2}" \
  --allowed-hosts "$MLFLOW_ALLOWED_HOSTS"
