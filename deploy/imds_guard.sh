#!/usr/bin/env bash
# Keep the instance role's keys from containers: packets from a container to the instance
# metadata service (IMDS) are rejected, except from the one bridge named (compose.aws.yaml's
# `cloud` network, `housing-cloud`, which holds mlflow and the trainer only; on a swarm's data node,
# docker_gwbridge). Without a bridge, every container is refused. Idempotent; run after dockerd
# starts by the housing-imds-guard unit (cloud-init.yaml), since a reboot clears the rules.
#
#   deploy/imds_guard.sh [BRIDGE]      (default: IMDS_BRIDGE from the environment)
set -euo pipefail
bridge="${1:-${IMDS_BRIDGE:-}}"
[ -z "$bridge" ] || [[ "$bridge" =~ ^[A-Za-z0-9_.-]{1,15}$ ]] \
  || { echo "imds-guard: '$bridge' is not an interface name" >&2; exit 2; }
imds=169.254.169.254/32
iptables -N DOCKER-USER 2>/dev/null || true  # dockerd makes it too; either may come first
add() { iptables -C DOCKER-USER "$@" 2>/dev/null || iptables -I DOCKER-USER "$@"; }
# Inserted at the top in this order, the exception ends above the rejection.
add -d "$imds" -j REJECT --reject-with icmp-port-unreachable
[ -z "$bridge" ] || add -d "$imds" -i "$bridge" -j RETURN
echo "imds-guard: containers reach $imds only through ${bridge:-no bridge}"
