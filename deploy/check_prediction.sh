#!/bin/sh
# One real prediction through the edge over HTTPS, as a client makes it: /health/ready, then
# /predict with the first API key of the env file. deploy_to_ec2.sh runs it on the host, from a
# release's directory.
#
#   check_prediction.sh ENV_FILE SITE PORT [ROOT_CERT]
#
# SITE is the edge's SITE_ADDRESS, reached on 127.0.0.1:PORT. /health/ready is given up to
# READY_WITHIN_S (30) seconds. Its certificate is verified against
# the system's roots (Let's Encrypt) or, failing that, against ROOT_CERT, the root of the edge's
# internal CA (a `localhost` or private site); never not at all.
set -eu
env_file=$1 site=$2 port=$3 root=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The key reaches curl in a header file (-H @file), never on a command line (/proc/*/cmdline).
keys=$(sed -n 's/^GATEWAY_API_KEYS=//p' "$env_file" | tail -n 1)
printf 'X-API-Key: %s\n' "${keys%%,*}" > "$work/headers"
body='{"longitude": -122.23, "latitude": 37.88, "housing_median_age": 41, "total_rooms": 880,
"total_bedrooms": 129, "population": 322, "households": 126, "median_income": 8.3252,
"ocean_proximity": "NEAR BAY"}'

fetch() {  # path [curl arguments]: with the system's roots, then (exit 60) with ROOT_CERT
  path=$1
  shift
  set -- -fsS --max-time 10 --resolve "$site:$port:127.0.0.1" "$@" "https://$site:$port$path"
  status=0
  curl "$@" || status=$?
  if [ "$status" = 60 ] && [ -s "$root" ]; then
    status=0
    curl --cacert "$root" "$@" || status=$?
  fi
  return "$status"
}

# Ready within a few seconds: a gateway learns that a predictor that just started is ready at
# its next probe, which may come after compose or swarm already calls the stack healthy.
for _ in $(seq "${READY_WITHIN_S:-30}"); do
  fetch /health/ready >/dev/null 2>&1 && break
  sleep 1
done
fetch /health/ready >/dev/null
fetch /predict -H @"$work/headers" -H 'Content-Type: application/json' -d "$body"
