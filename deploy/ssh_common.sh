# shellcheck shell=bash
# shellcheck disable=SC2034  # the sourcing script reads these
# What deploy_to_ec2.sh and mlflow_ui.sh share: the connection's flags (defaults from the
# environment) and their checks, SSH's options, and a tunnel to a remote Docker engine. Sourced;
# the caller defines die() (its own prefix, exit 2).

HOST="${DEPLOY_HOST:-}"; USER_NAME="${DEPLOY_USER:-ec2-user}"; KEY="${DEPLOY_KEY:-}"
PORT="${DEPLOY_PORT:-22}"; KNOWN_HOSTS="${DEPLOY_KNOWN_HOSTS:-}"
DOCKER_ENDPOINT="${DEPLOY_DOCKER_ENDPOINT:-/var/run/docker.sock}"

connection_flag() {  # flag value -> 0 when it is one of the connection's flags (value taken)
  case "$1" in
    --host) HOST=$2 ;;
    --user) USER_NAME=$2 ;;
    --key) KEY=$2 ;;
    --port) PORT=$2 ;;
    --known-hosts) KNOWN_HOSTS=$2 ;;
    --docker-endpoint) DOCKER_ENDPOINT=$2 ;;
    *) return 1 ;;
  esac
}

valid() {  # name value pattern: every value that reaches a remote command line is checked first
  [[ "$2" =~ $3 ]] || die "$1 '$2' is not allowed (it must match $3)"
}

check_connection() {  # the connection's values checked -> SSH_OPTS, TARGET
  [ -n "$HOST" ] || die "--host (or DEPLOY_HOST) is required"
  [ -z "$KEY" ] || [ -f "$KEY" ] || die "SSH key $KEY not found"
  [ -z "$KNOWN_HOSTS" ] || [ -s "$KNOWN_HOSTS" ] \
    || die "--known-hosts $KNOWN_HOSTS is missing or empty (ssh-keyscan the host into it)"
  valid --host "$HOST" '^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$'
  valid --user "$USER_NAME" '^[a-z_][a-z0-9_-]{0,31}$'
  valid --port "$PORT" '^[0-9]{1,5}$'
  valid --docker-endpoint "$DOCKER_ENDPOINT" '^(/[A-Za-z0-9._/-]+|[A-Za-z0-9.-]+:[0-9]{1,5})$'
  # With known hosts, the host's key must be in them; without, a first contact trusts the key it
  # is shown (accept-new), and says so.
  SSH_OPTS=(-p "$PORT" -o BatchMode=yes -o ConnectTimeout=10)
  if [ -n "$KNOWN_HOSTS" ]; then
    SSH_OPTS+=(-o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$KNOWN_HOSTS")
  else
    echo "${0##*/}: no --known-hosts: the host's key is trusted on first contact (accept-new)" >&2
    SSH_OPTS+=(-o StrictHostKeyChecking=accept-new)
  fi
  if [ -n "$KEY" ]; then SSH_OPTS+=(-i "$KEY"); fi
  TARGET="$USER_NAME@$HOST"
}

engine_tunnel() {  # target local-socket remote-endpoint -> TUNNEL (pid), once the socket answers
  # The Docker CLI's own ssh:// transport takes no key or known-hosts file; a forwarded socket
  # does.
  ssh "${SSH_OPTS[@]}" -nNT -o ExitOnForwardFailure=yes -L "$2:$3" "$1" &
  TUNNEL=$!
  for _ in $(seq 100); do [ -S "$2" ] && break; kill -0 "$TUNNEL" 2>/dev/null || break; sleep 0.1; done
  [ -S "$2" ] || die "no SSH tunnel to the engine of $1"
}

release_compose() {  # a release's directory on the host -> its compose invocation, from there
  echo "cd '$1' && docker compose -p '$PROJECT' --env-file .env --env-file release.env -f compose.yaml -f compose.deploy.yaml \$([ ! -f compose.aws.yaml ] || echo -f compose.aws.yaml) -f compose.release.yaml"
}
