#!/bin/sh
# Wait for the stores, migrate the schema, then serve. Every value comes from the environment
# (compose.yaml passes them); nothing here is a secret.
set -eu
python /app/prepare_stores.py
exec mlflow server \
  --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
  --serve-artifacts \
  --artifacts-destination "s3://${MLFLOW_BUCKET}/artifacts" \
  --host 0.0.0.0 \
  --port "$MLFLOW_PORT" \
  --workers "${MLFLOW_WORKERS:-2}" \
  --allowed-hosts "$MLFLOW_ALLOWED_HOSTS"
