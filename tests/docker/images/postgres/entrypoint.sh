#!/bin/sh
# initdb on the first start (user, password, database from the environment
# as the postgres image takes them), then PostgreSQL in the foreground
set -eu
data=/var/lib/postgresql/data/pg
if ! [ -s "$data/PG_VERSION" ]; then
	umask 077
	printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pw
	initdb -D "$data" -U "$POSTGRES_USER" --pwfile=/tmp/pw -A scram-sha-256 >/dev/null
	rm -f /tmp/pw
	echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" |
		postgres --single -D "$data" -j postgres >/dev/null
fi
exec postgres -D "$data" -c listen_addresses="${PGHOST:-127.0.0.1}" \
	-c port="${PGPORT:-5432}" -c unix_socket_directories=/tmp
