#!/usr/bin/env bash
# What a heavy suite needs, checked before anything is installed or built: one line for each
# missing thing, naming it and how to get it, then exit 2 (within seconds).
#
#   scripts/check-suite.sh e2e|chaos|deploy-test|swarm-test
set -uo pipefail
suite=${1:-}
case $suite in
  e2e | chaos | deploy-test | swarm-test) ;;
  *) echo "usage: $0 e2e|chaos|deploy-test|swarm-test" >&2; exit 2 ;;
esac
missing=0
need() {  # what, how to get it
  echo "make $suite needs $1: $2" >&2
  missing=1
}
here=" (on this project's sandbox machines: ../shared/sandbox/docker-up)"

if ! command -v docker >/dev/null; then
  need "the Docker CLI" "apt-get install docker.io$here"
elif ! timeout 10 docker info >/dev/null 2>&1; then
  need "a running Docker engine that this user may use" "start dockerd$here"
elif ! docker compose version >/dev/null 2>&1; then
  need "Docker Compose v2 (docker compose)" "install the compose plugin$here"
else
  # A stand-in image named by a variable cannot be pulled: it must have been built here.
  for var in PYTHON_IMAGE POSTGRES_IMAGE S3_IMAGE CADDY_IMAGE DIND_IMAGE; do
    image=${!var:-}
    if [ -n "$image" ] && ! docker image inspect "$image" >/dev/null 2>&1; then
      need "the image $image ($var)" "build it, or unset $var to pull the upstream image$here"
    fi
  done
fi
if [ "$suite" = deploy-test ] || [ "$suite" = swarm-test ]; then
  # A stand-in EC2 host (or the swarm manager's SSH tunnel), and a registry to push to.
  [ -x /usr/sbin/sshd ] || need "Debian's openssh-server (/usr/sbin/sshd)" \
    "apt-get install openssh-server"
  command -v ssh >/dev/null || need "an SSH client (ssh)" "apt-get install openssh-client"
  command -v docker-registry >/dev/null || [ -x /usr/bin/docker-registry ] ||
    need "Debian's docker-registry" "apt-get install docker-registry"
fi
exit $((missing * 2))
