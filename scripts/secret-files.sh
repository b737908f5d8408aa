#!/usr/bin/env bash
# Write each secret of an env file to a file of its own, for compose's `secrets:` (mounted at
# /run/secrets/<name> in the services that need it, never in their environment).
#
#   scripts/secret-files.sh ENV_FILE DIR     DIR/postgres_password, DIR/s3_access_key, ...
#   scripts/secret-files.sh --names          the variables that are secrets, one per line
#
# DIR is private to its owner (0700); the files in it are world-readable (0644) so that every
# container's user can read the file mounted into it, while no other host user can reach DIR.
# The S3 keys may be left out: on AWS (deploy/compose.aws.yaml) the instance role stands in for
# them, and no service mounts them; elsewhere compose stops at the missing file.
set -euo pipefail
OPTIONAL=" S3_ACCESS_KEY S3_SECRET_KEY "
NAMES=(POSTGRES_PASSWORD S3_ACCESS_KEY S3_SECRET_KEY GATEWAY_API_KEYS
  MLFLOW_ADMIN_PASSWORD MLFLOW_TRAINER_PASSWORD MLFLOW_PREDICTOR_PASSWORD MLFLOW_MONITOR_PASSWORD
  PREDICTIONS_DB_PASSWORD)
if [ "${1:-}" = "--names" ]; then
  printf '%s\n' "${NAMES[@]}"
  exit 0
fi
[ $# -eq 2 ] || { echo "usage: $0 ENV_FILE DIR | --names" >&2; exit 2; }
env_file=$1
dir=$2
[ -f "$env_file" ] || { echo "secret-files: $env_file not found" >&2; exit 2; }
mkdir -p "$dir"
chmod 700 "$dir"
for name in "${NAMES[@]}"; do
  value="$(sed -n "s/^${name}=//p" "$env_file" | tail -n 1)"
  value="${value%\"}"; value="${value#\"}"; value="${value%\'}"; value="${value#\'}"
  file="$dir/$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')"
  if [ -z "$value" ] && [[ "$OPTIONAL" == *" $name "* ]]; then
    rm -f "$file"
    continue
  fi
  [ -n "$value" ] || { echo "secret-files: $name is not set in $env_file" >&2; exit 2; }
  (umask 022; printf '%s' "$value" > "$file.tmp")
  mv "$file.tmp" "$file"
done
