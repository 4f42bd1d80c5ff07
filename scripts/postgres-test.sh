#!/usr/bin/env bash
# Throwaway PostgreSQL for the store tests.
#
#   scripts/postgres-test.sh [start]   start a server, create database "cdshooks_test", print its URL
#   scripts/postgres-test.sh stop      stop it and delete its data directory
#
#   export CDSHOOKS_TEST_POSTGRES_URL="$(scripts/postgres-test.sh)"
#
# Uses the Debian binaries in /usr/lib/postgresql/*/bin (apt-get install -y postgresql). Listens on
# 127.0.0.1 only, on a free port, with its unix socket inside the temp directory, trust auth (it is
# loopback-only and lives for one test run). PostgreSQL refuses to run as root, so as root the
# server runs as the "postgres" user (or "nobody").
set -euo pipefail

STATE_FILE="${CDSHOOKS_PG_STATE:-${TMPDIR:-/tmp}/cdshooks-postgres-test.state}"
MODE="${1:-start}"

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -z "$dir" ]]; then
    echo "postgres-test.sh: no /usr/lib/postgresql/*/bin (apt-get install -y postgresql)" >&2
    exit 1
  fi
  echo "$dir"
}

as_owner() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  /usr/bin/env python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

case "$MODE" in
  start)
    if [[ -f "$STATE_FILE" ]]; then
      echo "postgres-test.sh: already running ($STATE_FILE); run '$0 stop' first" >&2
      exit 1
    fi
    BIN="$(pg_bin)"
    OWNER="$(id -un)"
    if [[ "$(id -u)" == "0" ]]; then
      if id postgres >/dev/null 2>&1; then OWNER=postgres; else OWNER=nobody; fi
    fi
    DIR="$(mktemp -d "${TMPDIR:-/tmp}/cdshooks-pg.XXXXXX")"
    chmod 700 "$DIR"
    [[ "$(id -u)" == "0" ]] && chown "$OWNER" "$DIR"
    PORT="$(free_port)"
    as_owner "$BIN/initdb" -D "$DIR/data" -U cdshooks --auth=trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
      -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=on" start >/dev/null \
      || { cat "$DIR/server.log" >&2; exit 1; }
    as_owner "$BIN/createdb" -h "$DIR" -p "$PORT" -U cdshooks cdshooks_test
    printf 'DIR=%q\nBIN=%q\nOWNER=%q\nPORT=%q\n' "$DIR" "$BIN" "$OWNER" "$PORT" >"$STATE_FILE"
    echo "postgresql+psycopg://cdshooks@127.0.0.1:$PORT/cdshooks_test"
    ;;
  stop)
    if [[ ! -f "$STATE_FILE" ]]; then
      echo "postgres-test.sh: nothing to stop" >&2
      exit 0
    fi
    # shellcheck disable=SC1090
    source "$STATE_FILE"
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$DIR" "$STATE_FILE"
    ;;
  *)
    echo "usage: $0 [start|stop]" >&2
    exit 2
    ;;
esac
