#!/usr/bin/env bash
# The test command (README): fresh venv in .venv, the package with its test extras, a throwaway
# PostgreSQL for the store tests, then pytest over tests/.
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test,postgres]'  # pinned: constraints.txt

pg_started=0
if [[ -z "${CDSHOOKS_TEST_POSTGRES_URL:-}" ]] && ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  export CDSHOOKS_PG_STATE="$(mktemp -u "${TMPDIR:-/tmp}/cdshooks-pg.XXXXXX")"
  if CDSHOOKS_TEST_POSTGRES_URL="$(bash scripts/postgres-test.sh start)"; then
    export CDSHOOKS_TEST_POSTGRES_URL
    pg_started=1
  else
    echo "test.sh: could not start PostgreSQL; PostgreSQL store tests will be skipped" >&2
  fi
fi
cleanup() { if (( pg_started )); then bash scripts/postgres-test.sh stop >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

.venv/bin/python -m pytest "$@"
