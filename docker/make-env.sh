#!/usr/bin/env bash
# Print the settings of a MUSCode classroom stack, with fresh random secrets:
#
#   bash docker/make-env.sh > docker/.env && chmod 600 docker/.env
#
# docker/docker-compose.yml reads them (--env-file docker/.env). Every secret is new
# each call: run it once per deployment and keep the file (changing POSTGRES_PASSWORD
# later does not change the password of an existing database volume). The non-secret
# settings below may be given in the environment, e.g.
#   HUB_PORT=8080 MUSCODE_HUB_ADMINS=ada,grace bash docker/make-env.sh > docker/.env
# The stack refuses to start with a missing, short or placeholder secret.
set -euo pipefail

die() {
    echo "make-env: $*" >&2
    exit 1
}

# n random bytes, hex-encoded.
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# The group that may use the Docker socket: the hub (DockerSpawner), the muscode replicas
# (language probes) and the workers (the sandbox) join it as unprivileged users.
socket="${DOCKER_SOCKET:-/var/run/docker.sock}"
if [ -S "$socket" ]; then
    docker_gid="$(stat -c %g "$socket")"
elif getent group docker >/dev/null; then
    docker_gid="$(getent group docker | cut -d: -f3)"
else
    die "no Docker socket at $socket and no docker group: is Docker installed? (set DOCKER_SOCKET)"
fi

cat <<ENV
# MUSCode classroom settings for docker/docker-compose.yml, made by docker/make-env.sh.
# Secrets: keep this file private.

# Names of containers, networks and volumes start with this.
COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-muscode}
# The hub's public port on this host, and the address it listens on (loopback: put a
# TLS-terminating reverse proxy in front; 0.0.0.0 to serve plain HTTP to the network).
HUB_PORT=${HUB_PORT:-8000}
HUB_BIND=${HUB_BIND:-127.0.0.1}
# The images' tag (docker/build-images.sh --all tags MUSCode's version).
MUSCODE_IMAGE_TAG=${MUSCODE_IMAGE_TAG:-$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../muscode_ext/_version.py")}
# The group id of the Docker socket on this host.
DOCKER_GID=${docker_gid}
# Host directory of the workers' per-run files (the engine bind-mounts them into the
# run's container, so it is the same path on the host and in the containers).
MUSCODE_RUNS_DIR=${MUSCODE_RUNS_DIR:-/var/lib/muscode/runs}
# Hub admins (comma-separated): MUSCode admins too; they authorize sign-ups.
MUSCODE_HUB_ADMINS=${MUSCODE_HUB_ADMINS:-}
# Instructors (comma-separated): the hub role that may create classes and grade.
MUSCODE_HUB_INSTRUCTORS=${MUSCODE_HUB_INSTRUCTORS:-}

POSTGRES_PASSWORD=$(random_hex 32)
REDIS_PASSWORD=$(random_hex 32)
JPY_COOKIE_SECRET=$(random_hex 32)
CONFIGPROXY_AUTH_TOKEN=$(random_hex 32)
JUPYTERHUB_CRYPT_KEY=$(random_hex 32)
MUSCODE_SERVICE_API_TOKEN=$(random_hex 32)
MUSCODE_JWT_SECRET=$(random_hex 32)
MUSCODE_COOKIE_SECRET=$(random_hex 32)
ENV
