#!/bin/sh
# Start Redis for MUSCode: a password on every connection (REDIS_PASSWORD), nothing kept
# on disk (a run is a PostgreSQL row before it is queued, and a starting muscode replica
# queues again what is still queued there), and the configuration on stdin so that the
# password is on no command line.
set -eu
: "${REDIS_PASSWORD:?set REDIS_PASSWORD (docker/make-env.sh writes one)}"
exec redis-server - <<CONF
bind * -::*
port 6379
protected-mode no
requirepass ${REDIS_PASSWORD}
save ""
appendonly no
# The queue must never lose entries to eviction.
maxmemory-policy noeviction
CONF
