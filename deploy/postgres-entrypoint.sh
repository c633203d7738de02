#!/bin/sh
# The official postgres image's start-up, in small: on an empty PGDATA, initdb with POSTGRES_USER and
# POSTGRES_PASSWORD (password auth from the network) and create POSTGRES_DB; then run the server as
# the postgres user, listening on all addresses. Runs as root only long enough to own the folders.
set -eu

# Any other command (psql, pg_dump, a shell) runs as it is, as in the official image.
[ "${1:-}" = postgres ] || exec "$@"

POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
export PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?must be set to initialise the database (the bot connects with it)}"
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
    rm -f "$pwfile"
    # Every address, not only loopback: the bot replicas connect over the compose network.
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        # A server on the socket only, so that nothing connects before the database exists.
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres -q \
            --set=db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    echo "PostgreSQL init process complete; ready for start up."
fi

shift
exec postgres -c listen_addresses='*' "$@"
