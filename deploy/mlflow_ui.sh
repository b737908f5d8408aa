#!/usr/bin/env bash
# shellcheck disable=SC2029  # remote commands are built here on purpose, then run there
# MLflow's UI from a swarm, on this machine's 127.0.0.1:LOCAL_PORT, through SSH only. A swarm
# cannot publish a port on a node's 127.0.0.1 alone (deploy/stack.yaml publishes none for
# MLflow), so a helper container (the edge's Caddy image, no capabilities, read-only, as the
# SSH user) joins the stack's `registry` network on the manager and serves MLflow on a Unix
# socket in a directory of the SSH user's; SSH forwards the local port to that socket. Ctrl-C
# (or SIGTERM) removes the helper.
#
#   deploy/mlflow_ui.sh --host MANAGER [--user ec2-user] [--key KEY] [--port 22]
#       [--known-hosts FILE] [--stack housing-mlops] [--local-port 5000]
#       [--dir ~/.housing-mlflow-ui] [--docker-endpoint /var/run/docker.sock]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
STACK="${DEPLOY_PROJECT:-housing-mlops}"; LOCAL_PORT=5000; DIR=""

usage() { sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "mlflow-ui: $*" >&2; exit 2; }
# shellcheck source=deploy/ssh_common.sh
. "$HERE/ssh_common.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --stack) STACK="$2"; shift 2 ;;
    --local-port) LOCAL_PORT="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) if [ $# -ge 2 ] && connection_flag "$1" "$2"; then shift 2; else
         echo "mlflow-ui: unknown argument $1" >&2; usage 2; fi ;;
  esac
done
valid --local-port "$LOCAL_PORT" '^[0-9]{1,5}$'
valid --stack "$STACK" '^[a-z0-9][a-z0-9_-]{0,62}$'
[ -z "$DIR" ] || valid --dir "$DIR" '^/[A-Za-z0-9._/-]+$'
check_connection
HELPER="$STACK-mlflow-ui"
WORK="$(mktemp -d)"
TUNNEL=""; FORWARD=""
cleanup() {
  trap - EXIT INT TERM
  [ -z "$FORWARD" ] || kill "$FORWARD" 2>/dev/null || true
  [ ! -S "$WORK/docker.sock" ] || docker -H "unix://$WORK/docker.sock" rm -f "$HELPER" >/dev/null 2>&1 || true
  [ -z "$TUNNEL" ] || kill "$TUNNEL" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The SSH user's own directory and ids: the socket in it is theirs alone.
ids="$(ssh "${SSH_OPTS[@]}" "$TARGET" 'echo "$(id -u):$(id -g)"')" \
  || die "cannot reach $TARGET over SSH"
valid "the user's ids" "$ids" '^[0-9]+:[0-9]+$'
if [ -z "$DIR" ]; then
  DIR="$(ssh "${SSH_OPTS[@]}" "$TARGET" 'printf %s "$HOME"')/.housing-mlflow-ui"
  valid --dir "$DIR" '^/[A-Za-z0-9._/-]+$'
fi
ssh "${SSH_OPTS[@]}" "$TARGET" "mkdir -p '$DIR' && chmod 700 '$DIR' && rm -f '$DIR/mlflow.sock' &&
  cat > '$DIR/Caddyfile'" <<'CADDY'
{
	admin off
	auto_https off
}
http:// {
	bind unix//run/mlflow-ui/mlflow.sock
	reverse_proxy mlflow:5000
}
CADDY

engine_tunnel "$TARGET" "$WORK/docker.sock" "$DOCKER_ENDPOINT"
engine=(docker -H "unix://$WORK/docker.sock")
# The image the edge runs: the manager has it, and it is the stack's own choice of Caddy.
image="$("${engine[@]}" service inspect "${STACK}_edge" \
  --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}')" || die "no stack $STACK on $TARGET"
"${engine[@]}" rm -f "$HELPER" >/dev/null 2>&1 || true
"${engine[@]}" run -d --rm --name "$HELPER" --network "${STACK}_registry" --user "$ids" \
  --read-only --cap-drop ALL --security-opt no-new-privileges --memory 64m --pids-limit 50 \
  -v "$DIR:/run/mlflow-ui" -e XDG_DATA_HOME=/run/mlflow-ui -e XDG_CONFIG_HOME=/run/mlflow-ui \
  "$image" caddy run --config /run/mlflow-ui/Caddyfile --adapter caddyfile >/dev/null
for _ in $(seq 100); do
  ssh "${SSH_OPTS[@]}" "$TARGET" "test -S '$DIR/mlflow.sock'" && break
  sleep 0.2
done
ssh "${SSH_OPTS[@]}" "$TARGET" "test -S '$DIR/mlflow.sock'" \
  || die "the helper did not start: $("${engine[@]}" logs "$HELPER" 2>&1 | tail -n 3)"
echo "mlflow-ui: MLflow on http://127.0.0.1:$LOCAL_PORT (Ctrl-C to stop)"
ssh "${SSH_OPTS[@]}" -nNT -o ExitOnForwardFailure=yes \
  -L "127.0.0.1:$LOCAL_PORT:$DIR/mlflow.sock" "$TARGET" &
FORWARD=$!
wait "$FORWARD"
