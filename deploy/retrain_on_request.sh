#!/usr/bin/env bash
# shellcheck disable=SC2029  # remote commands are built here on purpose, then run there
# Runs the trainer on the deployed host when the monitor has asked for a retrain: asks the
# registry through the serving release's trainer image (`housing retrain pending`), and only on
# a pending request runs the trainer job there (which trains on the log's feedback and settles
# the request). Exit 0: nothing pending, or the trainer ran; 1: the trainer failed; 2: the host
# or the registry could not be asked. .github/workflows/retrain.yml runs it hourly.
#
#   deploy/retrain_on_request.sh --host HOST [--user ec2-user] [--key KEY] [--port 22]
#       [--known-hosts FILE] [--dir /opt/housing-mlops] [--project housing-mlops]
#   deploy/retrain_on_request.sh --swarm --host MANAGER [--docker-endpoint /var/run/docker.sock]
#
# --swarm: HOST is the swarm's manager (the data node), PROJECT the stack. Asked through the
# monitor's task there (its MLflow user reads the registered model), over an SSH tunnel to the
# manager's engine; the trainer job runs again with the deployed spec (`service update --force`).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${DEPLOY_DIR:-/opt/housing-mlops}"; PROJECT="${DEPLOY_PROJECT:-housing-mlops}"; SWARM=0

usage() { sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "retrain: $*" >&2; exit 2; }
# shellcheck source=deploy/ssh_common.sh
. "$HERE/ssh_common.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --project) PROJECT="$2"; shift 2 ;;
    --swarm) SWARM=1; shift ;;
    -h|--help) usage 0 ;;
    *) if [ $# -ge 2 ] && connection_flag "$1" "$2"; then shift 2; else
         echo "retrain: unknown argument $1" >&2; usage 2; fi ;;
  esac
done
valid --dir "$DIR" '^/[A-Za-z0-9._/-]+$'
valid --project "$PROJECT" '^[a-z0-9][a-z0-9_-]{0,62}$'
check_connection

decide() {  # the pending check's exit status -> goes on (0) or exits
  case "$1" in
    0) echo "retrain: a request is pending: running the trainer on $HOST" ;;
    1) echo "retrain: no request pending"; exit 0 ;;
    *) die "cannot ask the registry on $HOST (exit $1)" ;;
  esac
}

if [ "$SWARM" = 1 ]; then
  STAGE="$(mktemp -d)"; TUNNEL=""
  trap '[ -z "$TUNNEL" ] || kill "$TUNNEL" 2>/dev/null; rm -rf "$STAGE"' EXIT
  engine_tunnel "$TARGET" "$STAGE/docker.sock" "$DOCKER_ENDPOINT"
  engine() { docker -H "unix://$STAGE/docker.sock" "$@"; }
  monitor="$(engine ps -q --filter "label=com.docker.swarm.service.name=${PROJECT}_monitor" \
    | head -n 1)"
  [ -n "$monitor" ] || die "no ${PROJECT}_monitor task runs on $HOST (the data node)"
  status=0
  engine exec "$monitor" python -m housing retrain pending || status=$?
  decide "$status"
  # A job runs again when its spec is forced: the deployed release's image and settings. The CLI
  # follows it to the end; its tasks then say how it ended.
  started=$(date +%s)
  engine service update --force --detach=false --quiet "${PROJECT}_trainer" >/dev/null 2>&1 || true
  # This run's own lines (MLflow's warnings left out): what it did with the request, the outcome.
  engine service logs --raw --since "$(( $(date +%s) - started + 10 ))s" "${PROJECT}_trainer" 2>&1 \
    | grep -a '^trainer: ' || true
  replicas="$(engine service ls --filter "name=${PROJECT}_trainer" --format '{{.Replicas}}')"
  if [[ "$replicas" =~ \(([0-9]+)/([0-9]+)\ completed\) ]] \
      && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
    exit 0
  fi
  echo "retrain: the trainer job did not complete on $HOST ($replicas; the request stays pending)" >&2
  exit 1
fi

# The serving release's own images, as they are on the host: never pulled again (a deploy's
# registry login does not outlive it).
compose="$(release_compose "$DIR/current")"
run="run --rm --pull never -T"

status=0
ssh "${SSH_OPTS[@]}" "$TARGET" "$compose $run --no-deps trainer housing retrain pending" \
  || status=$?
decide "$status"
ssh "${SSH_OPTS[@]}" "$TARGET" "$compose $run trainer" || {
  echo "retrain: the trainer failed on $HOST (the request stays pending)" >&2
  exit 1
}
