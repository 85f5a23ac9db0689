#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the integration tests and print
# its SQLAlchemy URL. Needs Debian's postgresql package (initdb, pg_ctl, postgres).
set -euo pipefail
PORT="${DSE_PG_PORT:-55432}"
DATA="${DSE_PG_DATA:-/tmp/dse-test-pg}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "start_test_postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
fi
RUN=()
if [ "$(id -u)" = "0" ]; then
  # The server refuses to run as root: run it as the 'postgres' user.
  RUN=(su postgres -s /bin/sh -c)
fi
run() { if [ ${#RUN[@]} -gt 0 ]; then "${RUN[@]}" "$*"; else sh -c "$*"; fi; }
if [ ! -f "$DATA/PG_VERSION" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  [ "$(id -u)" = "0" ] && chown postgres "$DATA"
  run "$BIN/initdb -D $DATA -U dse --auth=trust -E UTF8" >/dev/null
fi
if ! run "$BIN/pg_ctl -D $DATA status" >/dev/null 2>&1; then
  run "$BIN/pg_ctl -D $DATA -l $DATA/server.log -o '-p $PORT -k /tmp -c listen_addresses=127.0.0.1' -w start" >/dev/null
fi
run "$BIN/psql -h 127.0.0.1 -p $PORT -U dse -d postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='dse_test'\"" | grep -q 1 \
  || run "$BIN/createdb -h 127.0.0.1 -p $PORT -U dse dse_test"
echo "postgresql+psycopg2://dse@127.0.0.1:$PORT/dse_test"
