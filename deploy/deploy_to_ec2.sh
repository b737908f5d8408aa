#!/usr/bin/env bash
# shellcheck disable=SC2029  # remote commands are built here on purpose, then run there
# Deploy one release of the stack to a host over SSH, health-gated, with rollback.
#
#   deploy/deploy_to_ec2.sh --host HOST --user USER --key KEY --registry REG --tag TAG \
#       --env-file FILE [--port 22] [--dir /opt/housing-mlops] [--project housing-mlops]
#       [--wait-timeout 300] [--dry-run]
#
# Every flag can also come from the environment: DEPLOY_HOST, DEPLOY_USER, DEPLOY_KEY,
# DEPLOY_PORT, REGISTRY, IMAGE_TAG, DEPLOY_ENV_FILE, DEPLOY_DIR, DEPLOY_PROJECT,
# DEPLOY_WAIT_TIMEOUT; REGISTRY_USERNAME and REGISTRY_PASSWORD log the host in to the registry.
#
# On the host: installs compose.yaml, the deploy override, the env file and its secrets as files
# (scripts/secret-files.sh), pulls the release,
# `up -d --wait`, then checks the gateway's /health/ready and one real /predict. If any step
# fails it redeploys the previous release (recorded on the host), checks it the same way, and
# exits non-zero saying what failed and what runs now. Keeps the images of the last two releases.
set -euo pipefail

HOST="${DEPLOY_HOST:-}"; USER_NAME="${DEPLOY_USER:-ec2-user}"; KEY="${DEPLOY_KEY:-}"
PORT="${DEPLOY_PORT:-22}"; REGISTRY="${REGISTRY:-}"; TAG="${IMAGE_TAG:-}"
ENV_FILE="${DEPLOY_ENV_FILE:-}"; DIR="${DEPLOY_DIR:-/opt/housing-mlops}"
PROJECT="${DEPLOY_PROJECT:-housing-mlops}"; WAIT_TIMEOUT="${DEPLOY_WAIT_TIMEOUT:-300}"
DRY_RUN=0
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "deploy: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --host) HOST="$2"; shift 2 ;;
    --user) USER_NAME="$2"; shift 2 ;;
    --key) KEY="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --registry) REGISTRY="$2"; shift 2 ;;
    --tag) TAG="$2"; shift 2 ;;
    --env-file) ENV_FILE="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    --project) PROJECT="$2"; shift 2 ;;
    --wait-timeout) WAIT_TIMEOUT="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "deploy: unknown argument $1" >&2; usage 2 ;;
  esac
done

[ -n "$HOST" ] || die "--host (or DEPLOY_HOST) is required"
[ -n "$REGISTRY" ] || die "--registry (or REGISTRY) is required"
[ -n "$TAG" ] || die "--tag (or IMAGE_TAG) is required"
[ -n "$ENV_FILE" ] || die "--env-file (or DEPLOY_ENV_FILE) is required"
[ -f "$ENV_FILE" ] || die "env file $ENV_FILE not found"
[ -z "$KEY" ] || [ -f "$KEY" ] || die "SSH key $KEY not found"
# Every value that reaches a remote command line is checked against a strict pattern first.
valid() {  # name value pattern
  [[ "$2" =~ $3 ]] || die "$1 '$2' is not allowed (it must match $3)"
}
valid --host "$HOST" '^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$'
valid --user "$USER_NAME" '^[a-z_][a-z0-9_-]{0,31}$'
valid --port "$PORT" '^[0-9]{1,5}$'
valid --registry "$REGISTRY" '^[a-z0-9][a-z0-9.:-]*(/[a-z0-9][a-z0-9._-]*)*$'
valid --tag "$TAG" '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
valid --dir "$DIR" '^/[A-Za-z0-9._/-]+$'
valid --project "$PROJECT" '^[a-z0-9][a-z0-9_-]{0,62}$'
valid --wait-timeout "$WAIT_TIMEOUT" '^[0-9]{1,5}$'

SSH_OPTS=(-p "$PORT" -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new)
[ -n "$KEY" ] && SSH_OPTS+=(-i "$KEY")
[ -n "${DEPLOY_KNOWN_HOSTS:-}" ] && SSH_OPTS+=(-o "UserKnownHostsFile=$DEPLOY_KNOWN_HOSTS")
TARGET="$USER_NAME@$HOST"

remote() {  # run a shell snippet on the host
  if [ "$DRY_RUN" = 1 ]; then echo "[dry-run] ssh $TARGET: $1"; return 0; fi
  ssh "${SSH_OPTS[@]}" "$TARGET" "$1"
}

copy() {  # local file -> remote path, mode
  if [ "$DRY_RUN" = 1 ]; then echo "[dry-run] copy $1 -> $TARGET:$2 (mode $3)"; return 0; fi
  ssh "${SSH_OPTS[@]}" "$TARGET" "umask 077; cat > '$2.tmp' && chmod $3 '$2.tmp' && mv '$2.tmp' '$2'" < "$1"
}

compose_cmd() {  # the compose invocation on the host for one tag
  echo "cd '$DIR' && REGISTRY='$REGISTRY' IMAGE_TAG='$1' docker compose -p '$PROJECT' --env-file .env -f compose.yaml -f compose.deploy.yaml"
}

check_health() {  # gateway ready, then one real prediction with the first API key
  # The key goes to curl in a header file (-H @file): never on a command line (/proc/*/cmdline).
  remote "cd '$DIR' && set -a && . ./.env && set +a && port=\${GATEWAY_PORT:-8000} &&
    hdr=\$(mktemp) && trap 'rm -f \"\$hdr\"' EXIT &&
    printf 'X-API-Key: %s\\n' \"\${GATEWAY_API_KEYS%%,*}\" > \"\$hdr\" &&
    curl -fsS --max-time 10 http://127.0.0.1:\$port/health/ready >/dev/null &&
    curl -fsS --max-time 10 -H @\"\$hdr\" -H 'Content-Type: application/json' \
      -d '{\"longitude\": -122.23, \"latitude\": 37.88, \"housing_median_age\": 41, \"total_rooms\": 880, \"total_bedrooms\": 129, \"population\": 322, \"households\": 126, \"median_income\": 8.3252, \"ocean_proximity\": \"NEAR BAY\"}' \
      http://127.0.0.1:\$port/predict"
}

release() {  # tag -> 0 when it is up and healthy
  local tag=$1
  # Our images must pull; an upstream one (postgres, MinIO) may already be on the host.
  remote "$(compose_cmd "$tag") pull --quiet mlflow trainer predictor gateway" \
    || { FAILED="pull of $tag"; return 1; }
  remote "$(compose_cmd "$tag") pull --quiet --ignore-pull-failures postgres s3" >/dev/null 2>&1 || true
  remote "$(compose_cmd "$tag") up -d --wait --wait-timeout $WAIT_TIMEOUT --remove-orphans" \
    || { FAILED="up --wait of $tag (a service did not become healthy)"; return 1; }
  check_health >/dev/null || { FAILED="health check of $tag (/health/ready or /predict)"; return 1; }
}

echo "deploy: $REGISTRY @ $TAG -> $TARGET:$DIR (project $PROJECT)"
remote "mkdir -p '$DIR/data/raw' && command -v docker >/dev/null && docker compose version >/dev/null" \
  || die "the host has no docker compose (see deploy/cloud-init.yaml)"
copy "$ROOT/compose.yaml" "$DIR/compose.yaml" 644
copy "$HERE/compose.deploy.yaml" "$DIR/compose.deploy.yaml" 644
copy "$ENV_FILE" "$DIR/.env" 600
# The secrets as files (compose mounts them at /run/secrets; no container's environment holds one).
SECRETS_TMP="$(mktemp -d)"
trap 'rm -rf "$SECRETS_TMP"' EXIT
"$ROOT/scripts/secret-files.sh" "$ENV_FILE" "$SECRETS_TMP" >/dev/null \
  || die "the env file lacks a secret (see .env.example)"
remote "mkdir -p '$DIR/secrets' && chmod 700 '$DIR/secrets'"
for secret in "$SECRETS_TMP"/*; do
  copy "$secret" "$DIR/secrets/${secret##*/}" 644
done
if [ -n "${REGISTRY_USERNAME:-}" ] && [ -n "${REGISTRY_PASSWORD:-}" ]; then
  if [ "$DRY_RUN" = 1 ]; then
    echo "[dry-run] docker login ${REGISTRY%%/*} as $REGISTRY_USERNAME"
  else
    printf '%s' "$REGISTRY_PASSWORD" | ssh "${SSH_OPTS[@]}" "$TARGET" \
      "docker login '${REGISTRY%%/*}' -u '$REGISTRY_USERNAME' --password-stdin >/dev/null"
  fi
fi

PREVIOUS="$(remote "cat '$DIR/deployed_tag' 2>/dev/null || true")"
[ "$DRY_RUN" = 1 ] && PREVIOUS=""
FAILED=""
if release "$TAG"; then
  remote "cd '$DIR' && { [ '$PREVIOUS' = '$TAG' ] || [ -z '$PREVIOUS' ] || echo '$PREVIOUS' > previous_tag; } && echo '$TAG' > deployed_tag"
  # Keep the images of this release and the one before; remove older ones of this registry.
  remote "keep='$TAG'; [ -f '$DIR/previous_tag' ] && keep=\"\$keep \$(cat '$DIR/previous_tag')\";
    docker image ls --format '{{.Repository}}:{{.Tag}}' | grep '^$REGISTRY/' | while read -r image; do
      case \" \$keep \" in *\" \${image##*:} \"*) ;; *) docker image rm \"\$image\" >/dev/null 2>&1 || true ;; esac
    done"
  echo "deploy: $TAG is live and healthy on $HOST"
  exit 0
fi

echo "deploy: FAILED at $FAILED" >&2
if [ -z "$PREVIOUS" ] || [ "$PREVIOUS" = "$TAG" ]; then
  echo "deploy: no previous release recorded on $HOST to roll back to; $TAG is left as it is" >&2
  exit 1
fi
echo "deploy: rolling back to $PREVIOUS" >&2
WHAT="$FAILED"
if release "$PREVIOUS"; then
  echo "deploy: $TAG failed ($WHAT); rolled back: $PREVIOUS runs and is healthy" >&2
else
  echo "deploy: $TAG failed ($WHAT), and the rollback to $PREVIOUS failed too ($FAILED): the host needs a person" >&2
fi
exit 1
