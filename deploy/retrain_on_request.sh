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
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${DEPLOY_DIR:-/opt/housing-mlops}"; PROJECT="${DEPLOY_PROJECT:-housing-mlops}"

usage() { sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "retrain: $*" >&2; exit 2; }
# shellcheck source=deploy/ssh_common.sh
. "$HERE/ssh_common.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --project) PROJECT="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) if [ $# -ge 2 ] && connection_flag "$1" "$2"; then shift 2; else
         echo "retrain: unknown argument $1" >&2; usage 2; fi ;;
  esac
done
valid --dir "$DIR" '^/[A-Za-z0-9._/-]+$'
valid --project "$PROJECT" '^[a-z0-9][a-z0-9_-]{0,62}$'
check_connection
# The serving release's own images, as they are on the host: never pulled again (a deploy's
# registry login does not outlive it).
compose="$(release_compose "$DIR/current")"
run="run --rm --pull never -T"

status=0
ssh "${SSH_OPTS[@]}" "$TARGET" "$compose $run --no-deps trainer housing retrain pending" \
  || status=$?
case "$status" in
  0) echo "retrain: a request is pending: running the trainer on $HOST" ;;
  1) echo "retrain: no request pending"; exit 0 ;;
  *) die "cannot ask the registry on $HOST (exit $status)" ;;
esac
ssh "${SSH_OPTS[@]}" "$TARGET" "$compose $run trainer" || {
  echo "retrain: the trainer failed on $HOST (the request stays pending)" >&2
  exit 1
}
