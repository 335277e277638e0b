#!/bin/sh
# Start PostgreSQL for MUSCode. On the first start (an empty data directory) make the
# cluster, the password-protected role `muscode` (POSTGRES_PASSWORD) and its databases
# (POSTGRES_DATABASES, space-separated); every later start keeps what is there.
#
# Connections over the network need the password (scram-sha-256); only the `postgres`
# user inside this container may use the local socket without one.
set -eu

: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (docker/make-env.sh writes one)}"
databases="${POSTGRES_DATABASES:-jupyterhub muscode}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    # Every other host may connect, with a password: Docker's network decides who can.
    printf '%s\n' 'host all all 0.0.0.0/0 scram-sha-256' 'host all all ::/0 scram-sha-256' \
        >>"$PGDATA/pg_hba.conf"
    # Set up over the socket only; TCP (and so the healthcheck) comes up afterwards.
    pg_ctl --pgdata="$PGDATA" --silent --wait -o "-c listen_addresses=''" start
    # The password goes in through stdin (psql's variable quoting), never on a command line.
    psql --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --username=postgres --dbname=postgres \
        --set=password="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE muscode LOGIN PASSWORD :'password';
SQL
    for db in $databases; do
        createdb --username=postgres --owner=muscode "$db"
    done
    pg_ctl --pgdata="$PGDATA" --silent --wait stop
    echo "muscode-postgres: made the cluster, the role muscode and databases: $databases"
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' -c password_encryption=scram-sha-256
