#!/usr/bin/env bash
# The second half of `make demo` (the first is `dvc repro`): serve the champion locally.
# MLflow UI, predictor, gateway and monitor as local processes on embedded defaults; Ctrl-C stops
# them all.
# DEMO_SMOKE=1 makes one prediction through the gateway and exits (for CI).
set -euo pipefail
cd "$(dirname "$0")/.."

# Defaults and the example district from their one definition (housing.defaults, the contract).
read -r d_mlflow d_predictor d_gateway d_monitor d_pmetrics d_gmetrics d_mmetrics d_store < <(python -c '
from housing import defaults as d
print(d.MLFLOW_PORT, d.PREDICTOR_PORT, d.GATEWAY_PORT, d.MONITOR_PORT, d.PREDICTOR_METRICS_PORT,
      d.GATEWAY_METRICS_PORT, d.MONITOR_METRICS_PORT, d.LOCAL_TRACKING_URI)')
body="$(python -c 'import json; from housing.contract import EXAMPLE_RECORD as r; print(json.dumps(r))')"
MLFLOW_UI_PORT="${MLFLOW_UI_PORT:-$d_mlflow}"
PREDICTOR_PORT="${PREDICTOR_PORT:-$d_predictor}"
GATEWAY_PORT="${GATEWAY_PORT:-$d_gateway}"
MONITOR_PORT="${MONITOR_PORT:-$d_monitor}"
PREDICTOR_METRICS_PORT="${PREDICTOR_METRICS_PORT:-$d_pmetrics}"
GATEWAY_METRICS_PORT="${GATEWAY_METRICS_PORT:-$d_gmetrics}"
MONITOR_METRICS_PORT="${MONITOR_METRICS_PORT:-$d_mmetrics}"
STORE="${MLFLOW_TRACKING_URI:-$d_store}"
mkdir -p .demo
if [ -z "${GATEWAY_API_KEYS:-}" ]; then
  GATEWAY_API_KEYS="$(python -c 'import secrets; print(secrets.token_urlsafe(24))')"
  generated=" (generated for this session)"
fi
KEY="${GATEWAY_API_KEYS%%,*}"

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping the demo's services"
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

start() {  # name, command...: its own process group, output to .demo/<name>.log
  local name=$1; shift
  setsid "$@" >".demo/$name.log" 2>&1 &
  pids+=("$!")
}

wait_ready() {  # name, url
  for _ in $(seq 1 240); do
    if python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$2" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "$1 did not become ready; see .demo/$1.log" >&2
  tail -n 20 ".demo/$1.log" >&2
  exit 1
}

for port in "$MLFLOW_UI_PORT" "$PREDICTOR_PORT" "$GATEWAY_PORT" "$MONITOR_PORT" \
  "$PREDICTOR_METRICS_PORT" "$GATEWAY_METRICS_PORT" "$MONITOR_METRICS_PORT"; do
  if python -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$port" 2>/dev/null; then
    echo "port $port is already in use (the compose stack?): stop it or set MLFLOW_UI_PORT," \
      "PREDICTOR_PORT, GATEWAY_PORT, MONITOR_PORT and their *_METRICS_PORT" >&2
    exit 1
  fi
done

# Without the job runner (MLflow's GenAI jobs): its consumer processes would poll all day.
start mlflow env MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow server --backend-store-uri "$STORE" --host 127.0.0.1 --port "$MLFLOW_UI_PORT" --workers 1
wait_ready mlflow "http://127.0.0.1:$MLFLOW_UI_PORT/health"
start predictor env MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_UI_PORT" PREDICTOR_PORT="$PREDICTOR_PORT" \
  PREDICTOR_METRICS_PORT="$PREDICTOR_METRICS_PORT" PREDICTOR_CACHE_DIR=.demo/cache python -m predictor
wait_ready predictor "http://127.0.0.1:$PREDICTOR_PORT/health/ready"
start monitor env MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_UI_PORT" MONITOR_PORT="$MONITOR_PORT" \
  MONITOR_METRICS_PORT="$MONITOR_METRICS_PORT" MONITOR_STATE_DIR=.demo/monitor \
  MONITOR_INTERVAL_S="${MONITOR_INTERVAL_S:-60}" python -m monitor
start gateway env PREDICTOR_URLS="http://127.0.0.1:$PREDICTOR_PORT" GATEWAY_PORT="$GATEWAY_PORT" \
  GATEWAY_METRICS_PORT="$GATEWAY_METRICS_PORT" GATEWAY_API_KEYS="$GATEWAY_API_KEYS" \
  GATEWAY_MONITOR_URL="http://127.0.0.1:$MONITOR_PORT" python -m gateway
wait_ready gateway "http://127.0.0.1:$GATEWAY_PORT/health/ready"
wait_ready monitor "http://127.0.0.1:$MONITOR_PORT/health/ready"

python - "$MLFLOW_UI_PORT" <<'PY'
import json, sys
reg = json.load(open("models/registration.json"))
metrics = json.load(open("metrics/test.json"))
print(f"\nmodel {reg['name']}: champion is v{reg['champion_version']} "
      f"(last run: v{reg['version']}, {reg['reason']})")
print(f"test RMSE {metrics['rmse']:,.0f}  MAE {metrics['mae']:,.0f}  R² {metrics['r2']:.3f}")
PY
cat <<EOT

  MLflow UI   http://127.0.0.1:$MLFLOW_UI_PORT
  predictor   http://127.0.0.1:$PREDICTOR_PORT/docs
  gateway     http://127.0.0.1:$GATEWAY_PORT/  (playground)   http://127.0.0.1:$GATEWAY_PORT/docs
  monitor     http://127.0.0.1:$GATEWAY_PORT/monitor and /monitor/report (with the key; a pass a minute)
  metrics     http://127.0.0.1:$PREDICTOR_METRICS_PORT/metrics (predictor)   http://127.0.0.1:$GATEWAY_METRICS_PORT/metrics (gateway)   http://127.0.0.1:$MONITOR_METRICS_PORT/metrics (monitor)
  API key     $KEY${generated:-}

  curl -s http://127.0.0.1:$GATEWAY_PORT/predict -H 'X-API-Key: $KEY' \\
       -H 'Content-Type: application/json' -d '$body'

  Every prediction is logged in ${PREDICTION_LOG_URL:-predictions.db}; its real price goes back with
  curl -s http://127.0.0.1:$GATEWAY_PORT/feedback -H 'X-API-Key: $KEY' \\
       -H 'Content-Type: application/json' -d '{"request_id": "<its request_id>", "actuals": [452600]}'
  and \`housing feedback export -o feedback.csv\` writes the labelled ones; \`housing monitor run\`
  gives live RMSE and drift now (the monitor does it every minute: GET /monitor).

Logs in .demo/. Ctrl-C stops everything.
EOT

if [ "${DEMO_SMOKE:-0}" = "1" ]; then
  answer="$(curl -sf "http://127.0.0.1:$GATEWAY_PORT/predict" -H "X-API-Key: $KEY" \
    -H 'Content-Type: application/json' -d "$body")"
  echo "$answer"
  echo "demo smoke: a prediction came back through the gateway"
  rid="$(python -c 'import json, sys; print(json.loads(sys.argv[1])["request_id"])' "$answer")"
  # The record reaches the log within the writer's flush interval: until then, a 404.
  for _ in $(seq 1 40); do
    status="$(curl -s -o .demo/feedback.json -w '%{http_code}' "http://127.0.0.1:$GATEWAY_PORT/feedback" \
      -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
      -d "{\"request_id\": \"$rid\", \"actuals\": [452600]}")"
    [ "$status" = 202 ] && break
    sleep 0.25
  done
  [ "$status" = 202 ] || { echo "demo smoke: feedback answered $status" >&2; cat .demo/feedback.json >&2; exit 1; }
  echo "demo smoke: its actual was recorded (request $rid)"
  housing feedback export -o .demo/feedback.csv
  grep -q ",452600.0,NEAR BAY$" .demo/feedback.csv
  echo "demo smoke: the labelled prediction is in the export"
  MONITOR_STATE_DIR=.demo/monitor-cli MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_UI_PORT" \
    housing monitor run | tee .demo/monitor.txt
  grep -Eq "^v[0-9]+: [0-9]+ predictions, [1-9][0-9]* labelled  rmse " .demo/monitor.txt
  status="$(curl -s -o .demo/monitor.json -w '%{http_code}' "http://127.0.0.1:$GATEWAY_PORT/monitor" \
    -H "X-API-Key: $KEY")"
  [ "$status" = 200 ] || { echo "demo smoke: /monitor answered $status" >&2; exit 1; }
  echo "demo smoke: a monitoring pass measured the labelled prediction; GET /monitor answers"
  exit 0
fi
wait
