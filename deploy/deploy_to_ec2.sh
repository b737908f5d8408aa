#!/usr/bin/env bash
# shellcheck disable=SC2029  # remote commands are built here on purpose, then run there
# Deploy one release of the stack to a host over SSH, health-gated, with rollback.
#
#   deploy/deploy_to_ec2.sh --host HOST --user USER --key KEY --registry REG --tag TAG \
#       --env-file FILE [--known-hosts FILE] [--digests mlflow=sha256:…,…] [--port 22]
#       [--dir /opt/housing-mlops] [--project housing-mlops] [--compose compose.yaml]
#       [--wait-timeout 300] [--aws] [--dry-run]
#   deploy/deploy_to_ec2.sh --swarm ...the same... [--url https://api.example.com]
#       [--docker-endpoint /var/run/docker.sock]
#
# Every flag can also come from the environment: DEPLOY_HOST, DEPLOY_USER, DEPLOY_KEY,
# DEPLOY_PORT, REGISTRY, IMAGE_TAG, DEPLOY_ENV_FILE, DEPLOY_DIGESTS, DEPLOY_DIR, DEPLOY_PROJECT,
# DEPLOY_WAIT_TIMEOUT, DEPLOY_KNOWN_HOSTS; REGISTRY_USERNAME and REGISTRY_PASSWORD log the host
# in to the registry. With --known-hosts, the host's key must be in that file
# (StrictHostKeyChecking=yes; CD always gives it); without, a first contact trusts the key it is
# shown (accept-new) and says so. The env file is read as data, here and on the host: never run.
#
# Each release gets a directory of its own on the host, DIR/releases/TAG: the compose files, the
# env file, its secrets as files (scripts/secret-files.sh), and the image digests it runs (CD
# passes the digests it pushed: an image is pulled by digest, never by a tag that may have moved).
# DIR/current points at the release that serves. A deploy: a dump of MLflow's database (before any
# schema migration), then `up -d --wait` of the new release from its own directory, /health/ready
# and one real /predict through the edge over HTTPS (check_prediction.sh); then `current` moves,
# in one rename. If a step fails, or
# the deploy is interrupted (Ctrl-C, SIGTERM), the previous release is brought up again from its
# own directory, with its own compose file, checked the same way, and the exit status is non-zero.
#
# --swarm: HOST is a swarm manager. The stack (compose.yaml + deploy/stack.yaml, images pinned by
# --digests) goes to it through the Docker CLI over an SSH tunnel to its Docker socket
# (`docker stack deploy --with-registry-auth`, by deploy/swarm.py), which waits for convergence,
# checks a prediction through the edge over HTTPS (--url, default https://$SITE_ADDRESS), and on
# failure runs `docker service rollback` for the services that changed. The trainer reads the data
# set from DIR/data/raw on the data node. DEPLOY_URL, DEPLOY_DOCKER_ENDPOINT.
#
# --aws (DEPLOY_AWS=1), in either mode: deploy/compose.aws.yaml on top, so that artifacts and the
# DVC remote are in the bucket provision_ec2.py made (MLFLOW_BUCKET, AWS_REGION in the env file),
# reached through the instance role; no S3 service, no S3 keys.
set -euo pipefail

REGISTRY="${REGISTRY:-}"; TAG="${IMAGE_TAG:-}"
ENV_FILE="${DEPLOY_ENV_FILE:-}"; DIR="${DEPLOY_DIR:-/opt/housing-mlops}"
PROJECT="${DEPLOY_PROJECT:-housing-mlops}"; WAIT_TIMEOUT="${DEPLOY_WAIT_TIMEOUT:-}"
DIGESTS="${DEPLOY_DIGESTS:-}"; URL="${DEPLOY_URL:-}"
DRY_RUN=0; SWARM=0; AWS="${DEPLOY_AWS:-0}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
COMPOSE_FILE="$ROOT/compose.yaml"
SERVICES=(mlflow trainer predictor gateway monitor)
KEEP_BACKUPS=5

usage() { sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "deploy: $*" >&2; exit 2; }
# shellcheck source=deploy/ssh_common.sh
. "$HERE/ssh_common.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --registry) REGISTRY="$2"; shift 2 ;;
    --tag) TAG="$2"; shift 2 ;;
    --env-file) ENV_FILE="$2"; shift 2 ;;
    --digests) DIGESTS="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    --project) PROJECT="$2"; shift 2 ;;
    --compose) COMPOSE_FILE="$2"; shift 2 ;;
    --wait-timeout) WAIT_TIMEOUT="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --swarm) SWARM=1; shift ;;
    --aws) AWS=1; shift ;;
    --url) URL="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) if [ $# -ge 2 ] && connection_flag "$1" "$2"; then shift 2; else
         echo "deploy: unknown argument $1" >&2; usage 2; fi ;;
  esac
done

# A swarm's first deploy trains the first model before anything serves: more time by default.
[ -n "$WAIT_TIMEOUT" ] || { [ "$SWARM" = 1 ] && WAIT_TIMEOUT=900 || WAIT_TIMEOUT=300; }
[ -n "$REGISTRY" ] || die "--registry (or REGISTRY) is required"
[ -n "$TAG" ] || die "--tag (or IMAGE_TAG) is required"
[ -n "$ENV_FILE" ] || die "--env-file (or DEPLOY_ENV_FILE) is required"
[ -f "$ENV_FILE" ] || die "env file $ENV_FILE not found"
[ -f "$COMPOSE_FILE" ] || die "compose file $COMPOSE_FILE not found"
# Every value that reaches a remote command line is checked against a strict pattern first.
valid --registry "$REGISTRY" '^[a-z0-9][a-z0-9.:-]*(/[a-z0-9][a-z0-9._-]*)*$'
valid --tag "$TAG" '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
valid --dir "$DIR" '^/[A-Za-z0-9._/-]+$'
valid --project "$PROJECT" '^[a-z0-9][a-z0-9_-]{0,62}$'
valid --wait-timeout "$WAIT_TIMEOUT" '^[0-9]{1,5}$'
[ -z "$URL" ] || valid --url "$URL" '^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$'
[ -z "$DIGESTS" ] || valid --digests "$DIGESTS" \
  '^((mlflow|trainer|predictor|gateway|monitor)=sha256:[0-9a-f]{64},?)+$'
[ -z "${REGISTRY_USERNAME:-}" ] || valid REGISTRY_USERNAME "$REGISTRY_USERNAME" \
  '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$'

env_value() {  # NAME [default]: the env file's last NAME=, as data (quotes stripped, never run)
  local value
  value="$(sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1)"
  value="${value%\"}"; value="${value#\"}"; value="${value%\'}"; value="${value#\'}"
  printf '%s' "${value:-${2:-}}"
}
# The edge's address and port, for the health check that runs on the host.
SITE="$(env_value SITE_ADDRESS localhost)"; HTTPS_PORT="$(env_value HTTPS_PORT 443)"
valid SITE_ADDRESS "$SITE" '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$'
valid HTTPS_PORT "$HTTPS_PORT" '^[0-9]{1,5}$'

check_connection

remote() {  # run a shell snippet on the host
  if [ "$DRY_RUN" = 1 ]; then echo "[dry-run] ssh $TARGET: $1"; return 0; fi
  ssh "${SSH_OPTS[@]}" "$TARGET" "$1"
}

compose_cmd() {  # the compose invocation of one release, from its own directory and files
  release_compose "$DIR/releases/$1"
}

# --- the release's directory, built here, then sent whole -------------------------------------
STAGE="$(mktemp -d)"
IN_FLIGHT=0  # 1 from the first change on the host until `current` names a healthy release
on_exit() {  # an error that `set -e` turned into an exit, mid-deploy, still rolls back
  local status=$?
  rm -rf "$STAGE"
  if [ "$IN_FLIGHT" = 1 ] && [ "$status" -ne 0 ]; then
    IN_FLIGHT=0
    echo "deploy: stopped by an error (exit $status)" >&2
    roll_back "an error (exit $status)" || true
  fi
}
trap on_exit EXIT
cp "$COMPOSE_FILE" "$STAGE/compose.yaml"
cp "$HERE/compose.deploy.yaml" "$HERE/check_prediction.sh" "$STAGE/"
[ "$AWS" != 1 ] || cp "$HERE/compose.aws.yaml" "$STAGE/"
# What compose.yaml refers to by path (its configs: the edge's Caddyfile, Prometheus's config
# and rules), each at the same path in the release.
while read -r config; do
  mkdir -p "$STAGE/$(dirname "$config")" && cp "$ROOT/$config" "$STAGE/$config"
done < <(sed -n 's|^    file: \./||p' "$COMPOSE_FILE")
(umask 077; cp "$ENV_FILE" "$STAGE/.env")
"$ROOT/scripts/secret-files.sh" "$ENV_FILE" "$STAGE/secrets" >/dev/null \
  || die "the env file lacks a secret (see .env.example)"
if [ "$AWS" = 1 ]; then  # the bucket and its region: compose.aws.yaml reads them
  needed=(MLFLOW_BUCKET AWS_REGION); why="--aws needs it (provision_ec2.py prints it)"
else  # the stack's own S3 service reads its keys
  needed=(S3_ACCESS_KEY S3_SECRET_KEY); why="the stack's S3 service needs it; on AWS use --aws"
fi
for name in "${needed[@]}"; do
  grep -q "^$name=." "$ENV_FILE" || die "the env file lacks $name ($why)"
done
# The services mount their secrets from DIR/secrets, one path for every release: a container that
# outlives a release (postgres, s3) must still find its files after old release directories go.
printf 'REGISTRY=%s\nIMAGE_TAG=%s\nSECRETS_DIR=%s/secrets\n' "$REGISTRY" "$TAG" "$DIR" \
  > "$STAGE/release.env"
{
  echo "# The images this release runs, by digest (deploy_to_ec2.sh --digests)."
  if [ -z "$DIGESTS" ]; then
    echo "services: {}"
  else
    echo "services:"
    for service in "${SERVICES[@]}"; do
      digest="$(tr ',' '\n' <<< "$DIGESTS" | sed -n "s/^$service=//p" | tail -n 1)"
      [ -n "$digest" ] || die "--digests names no digest for $service"
      echo "  $service: {image: \"$REGISTRY/$service@$digest\"}"
    done
  fi
} > "$STAGE/compose.release.yaml"

swarm_deploy() {  # the stack to the swarm whose manager is HOST, through a tunnel to its engine
  local sock="$STAGE/docker.sock" tunnel=""
  local argv=(deploy --docker-host "unix://$sock" --stack "$PROJECT" --env-file "$ENV_FILE"
    --timeout "$WAIT_TIMEOUT")
  [ "$AWS" != 1 ] || argv+=(-f "$STAGE/compose.aws.yaml")
  argv+=(-f "$STAGE/compose.release.yaml")
  [ -z "$URL" ] || argv+=(--url "$URL")
  [ "$DRY_RUN" = 1 ] && argv+=(--dry-run)
  echo "deploy: the stack $PROJECT, $REGISTRY @ $TAG -> the swarm managed by $TARGET"
  if [ "$DRY_RUN" = 1 ]; then
    echo "[dry-run] ssh -L $sock:$DOCKER_ENDPOINT $TARGET (the manager's engine, over SSH)"
  else
    engine_tunnel "$TARGET" "$sock" "$DOCKER_ENDPOINT"
    tunnel=$TUNNEL
  fi
  # --with-registry-auth hands the nodes this CLI's registry login: one of its own, for this
  # deploy only, when REGISTRY_USERNAME and REGISTRY_PASSWORD are given.
  local config="${DOCKER_CONFIG:-}"
  if [ -n "${REGISTRY_USERNAME:-}" ] && [ -n "${REGISTRY_PASSWORD:-}" ] && [ "$DRY_RUN" = 0 ]; then
    config="$STAGE/docker-config"
    mkdir -p "$config"
    printf '%s' "$REGISTRY_PASSWORD" | DOCKER_CONFIG="$config" \
      docker login "${REGISTRY%%/*}" -u "$REGISTRY_USERNAME" --password-stdin >/dev/null
  fi
  local status=0
  # The secrets are the files staged above (SECRETS_DIR), as compose mode sends them.
  DOCKER_CONFIG="$config" REGISTRY="$REGISTRY" IMAGE_TAG="$TAG" RAW_DATA_DIR="$DIR/data/raw" \
    SECRETS_DIR="$STAGE/secrets" \
    "${PYTHON:-python3}" "$HERE/swarm.py" "${argv[@]}" || status=$?
  [ -z "$tunnel" ] || kill "$tunnel" 2>/dev/null || true
  return "$status"
}
if [ "$SWARM" = 1 ]; then
  swarm_deploy && exit 0
  echo "deploy: FAILED (see above)" >&2
  exit 1
fi

send_release() {  # the staged directory -> DIR/releases/TAG, replaced whole
  local to="$DIR/releases/$TAG"
  if [ "$DRY_RUN" = 1 ]; then
    echo "[dry-run] send the release directory ($(cd "$STAGE" && echo *)) to $TARGET:$to"
    return 0
  fi
  tar -C "$STAGE" -cf - . | ssh "${SSH_OPTS[@]}" "$TARGET" "set -e; umask 077;
    mkdir -p '$DIR/releases' '$DIR/data/raw' && rm -rf '$to.new' && mkdir '$to.new' &&
    tar -C '$to.new' -xpf - && ln -s ../../data '$to.new/data' &&
    rm -rf '$to.old' && { [ ! -e '$to' ] || mv '$to' '$to.old'; } && mv '$to.new' '$to' &&
    rm -rf '$to.old'"
}

check_health() {  # through the edge over HTTPS: ready, then one real prediction
  # The edge's internal CA root (a `localhost` site), for the check to verify its certificate.
  remote "$(compose_cmd "$1") exec -T edge cat /data/caddy/pki/authorities/local/root.crt \
      > edge-root.crt 2>/dev/null || true;
    sh check_prediction.sh .env '$SITE' '$HTTPS_PORT' edge-root.crt >/dev/null"
}

backup_database() {  # MLflow's database, before a release whose mlflow may migrate its schema
  remote "set -e; cd '$DIR' && mkdir -p backups && chmod 700 backups &&
    if docker inspect -f '{{.State.Running}}' '$PROJECT-postgres-1' 2>/dev/null | grep -qx true; then
      out=backups/\$(date -u +%Y%m%dT%H%M%SZ)-before-$TAG.sql.gz &&
      docker exec '$PROJECT-postgres-1' pg_dump -U mlflow -d mlflow | gzip > \"\$out.part\" &&
      mv \"\$out.part\" \"\$out\" && echo \"deploy: database saved to $DIR/\$out\" &&
      ls -1t backups/*.sql.gz | tail -n +$((KEEP_BACKUPS + 1)) | xargs -r rm -f;
    fi"
}

install_secrets() {  # the release's own secrets -> DIR/secrets, replaced whole
  remote "set -e; cd '$DIR' && rm -rf secrets.new secrets.old && cp -a 'releases/$1/secrets' secrets.new &&
    { [ ! -e secrets ] || mv secrets secrets.old; } && mv secrets.new secrets && rm -rf secrets.old"
}

release() {  # tag -> 0 when it is up and healthy, from its own directory
  local tag=$1
  echo "deploy: bringing up $tag"
  install_secrets "$tag" || { FAILED="the secrets of $tag"; return 1; }
  # Our images must pull; an upstream one (postgres, MinIO, Caddy) may already be on the host.
  remote "$(compose_cmd "$tag") pull --quiet ${SERVICES[*]}" || { FAILED="pull of $tag"; return 1; }
  local upstream="postgres s3 edge"
  [ "$AWS" != 1 ] || upstream="postgres edge"  # no S3 service on AWS
  remote "$(compose_cmd "$tag") pull --quiet --ignore-pull-failures $upstream" >/dev/null 2>&1 || true
  remote "$(compose_cmd "$tag") up -d --wait --wait-timeout $WAIT_TIMEOUT --remove-orphans" \
    || { FAILED="up --wait of $tag (a service did not become healthy)"; return 1; }
  check_health "$tag" || { FAILED="health check of $tag (/health/ready or /predict)"; return 1; }
}

switch_to() {  # DIR/current -> releases/TAG, in one rename
  remote "cd '$DIR' && ln -sfn 'releases/$1' current.new && mv -T current.new current"
}

roll_back() {  # why -> exit status 1, after the previous release is up again (or not)
  local why=$1
  if [ -z "$PREVIOUS" ] || [ "$PREVIOUS" = "$TAG" ]; then
    echo "deploy: $TAG failed ($why); no previous release on $HOST to roll back to" >&2
    return 1
  fi
  echo "deploy: rolling back to $PREVIOUS, with its own files" >&2
  if release "$PREVIOUS"; then
    switch_to "$PREVIOUS"
    echo "deploy: $TAG failed ($why); rolled back: $PREVIOUS runs and is healthy" >&2
  else
    echo "deploy: $TAG failed ($why), and the rollback to $PREVIOUS failed too ($FAILED): the host needs a person" >&2
  fi
  return 1
}

interrupted() {
  trap - INT TERM
  IN_FLIGHT=0
  echo "deploy: interrupted" >&2
  roll_back "interrupted" || true
  exit 130
}

echo "deploy: $REGISTRY @ $TAG -> $TARGET:$DIR (project $PROJECT)"
remote true || die "cannot reach $TARGET over SSH (the host's key, the user's key, the port?)"
remote "command -v docker >/dev/null && docker compose version >/dev/null" \
  || die "the host has no docker compose (see deploy/cloud-init.yaml)"
if [ -n "${REGISTRY_USERNAME:-}" ] && [ -n "${REGISTRY_PASSWORD:-}" ]; then
  if [ "$DRY_RUN" = 1 ]; then
    echo "[dry-run] docker login ${REGISTRY%%/*} as $REGISTRY_USERNAME"
  else
    printf '%s' "$REGISTRY_PASSWORD" | ssh "${SSH_OPTS[@]}" "$TARGET" \
      "docker login '${REGISTRY%%/*}' -u '$REGISTRY_USERNAME' --password-stdin >/dev/null"
  fi
fi

# The release that serves now, if it has a directory of its own (so it can be brought back).
PREVIOUS="$(remote "t=\$(readlink '$DIR/current' 2>/dev/null) && [ -f '$DIR/'\"\$t\"/compose.yaml ] && basename \"\$t\" || true")"
[ "$DRY_RUN" = 1 ] && PREVIOUS=""
[ -z "$PREVIOUS" ] || valid "the current release" "$PREVIOUS" '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
if [ "$PREVIOUS" = "$TAG" ]; then
  PREVIOUS=""  # redeploying what serves: its directory is replaced; nothing else to go back to
fi
send_release
FAILED=""
trap interrupted INT TERM
IN_FLIGHT=1
backup_database || { IN_FLIGHT=0; FAILED="the database backup"; roll_back "$FAILED"; exit 1; }
if release "$TAG"; then
  trap - INT TERM
  switch_to "$TAG"
  IN_FLIGHT=0
  # Keep this release and the one before (directories and images); remove older ones.
  remote "cd '$DIR/releases' && for d in */; do d=\${d%/}; case \"\$d\" in '$TAG'|'$PREVIOUS') ;; *) rm -rf \"\$d\" ;; esac; done;
    docker image ls --format '{{.Repository}}:{{.Tag}}' | grep '^$REGISTRY/' | while read -r image; do
      case \"\${image##*:}\" in '$TAG'|'$PREVIOUS') ;; *) docker image rm \"\$image\" >/dev/null 2>&1 || true ;; esac
    done"
  echo "deploy: $TAG is live and healthy on $HOST"
  exit 0
fi
trap - INT TERM
IN_FLIGHT=0
echo "deploy: FAILED at $FAILED" >&2
roll_back "$FAILED" || exit 1
