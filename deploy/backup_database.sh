#!/usr/bin/env bash
# MLflow's databases (runs and registry; the auth app's users) dumped and put in the artifact
# bucket, under backups/postgres/<UTC stamp>/<database>.dump (pg_dump's custom format). Runs on the
# host (or the swarm's data node) that holds PostgreSQL: nightly by the housing-backup timer that
# provision_ec2.py installs, or by hand.
#
#   deploy/backup_database.sh [--project housing-mlops]
#
# Each dump is written to a private temporary file and checked whole (pg_restore --list) before it
# leaves the host; the upload is then checked by size (services/mlflow/backups.py). Restore:
#   docker exec <mlflow> python /app/backups.py get KEY \
#     | docker exec -i <postgres> pg_restore -U mlflow -d mlflow --clean --if-exists
# The bucket's lifecycle rule (provision_ec2.py --backup-days) expires old dumps.
set -euo pipefail

PROJECT="${HOUSING_PROJECT:-housing-mlops}"
while [ $# -gt 0 ]; do
  case "$1" in
    --project) PROJECT="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "backup: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$PROJECT" =~ ^[a-z0-9][a-z0-9_-]{0,62}$ ]] || { echo "backup: bad project '$PROJECT'" >&2; exit 2; }

container() {  # service -> the id of its running container here (compose, or a swarm stack)
  local id
  id="$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$1" | head -n 1)"
  [ -n "$id" ] || id="$(docker ps -q \
    --filter "label=com.docker.swarm.service.name=${PROJECT}_$1" | head -n 1)"
  [ -n "$id" ] || { echo "backup: no running $1 container of $PROJECT on this host" >&2; exit 1; }
  echo "$id"
}

postgres="$(container postgres)"
mlflow="$(container mlflow)"
auth_db="$(docker exec "$mlflow" printenv MLFLOW_AUTH_DB)"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for db in mlflow "$auth_db"; do
  dump="$work/$db.dump"
  docker exec "$postgres" pg_dump -U mlflow -d "$db" --format=custom > "$dump"
  docker exec -i "$postgres" pg_restore --list < "$dump" > /dev/null \
    || { echo "backup: the dump of $db does not read back whole" >&2; exit 1; }
  docker exec -i "$mlflow" python /app/backups.py put "backups/postgres/$stamp/$db.dump" < "$dump"
done
echo "backup: $PROJECT's databases saved under backups/postgres/$stamp/"
