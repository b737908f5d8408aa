#!/usr/bin/env bash
# The end of `make demo`: say where things are. (Runs after `dvc repro` has trained and registered.)
set -euo pipefail
tracking_uri="${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}"
python - "$tracking_uri" <<'PY'
import json, sys
reg = json.load(open("models/registration.json"))
metrics = json.load(open("metrics/test.json"))
print(f"\nmodel {reg['name']}: v{reg['version']} registered, champion is v{reg['champion_version']}")
print(f"test RMSE {metrics['rmse']:,.0f}  MAE {metrics['mae']:,.0f}  R² {metrics['r2']:.3f}")
print(f"MLflow UI: mlflow ui --backend-store-uri {sys.argv[1]} --port 5000  ->  http://127.0.0.1:5000")
PY
