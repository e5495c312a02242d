#!/usr/bin/env bash
# `make bench`: services, a fresh dedicated database (switchboard_bench, never the dev one),
# then every benchmark in bench/ (results in bench/results.json and bench/README.md).
# BENCH_QUICK=1 runs small sizes; BENCH_ONLY="upsert lists" runs some cases (BENCH_MERGE=1 keeps the
# other cases' last results in results.json and the table).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
started=$(scripts/services.sh up | tail -n 1) || exit 1
# shellcheck disable=SC2086
trap '[ -n "$started" ] && scripts/services.sh down $started' EXIT

DB_NAME=${BENCH_DB_NAME:-switchboard_bench}
DATABASE_URL=$("$PY" -m bench.db "$DB_NAME" 2>"$ROOT/var/bench-db.log") || { cat "$ROOT/var/bench-db.log"; exit 1; }
export DATABASE_URL
export BENCH_PG_VERSION
BENCH_PG_VERSION=$(cat "$ROOT/var/bench-db.log")
export DJANGO_SETTINGS_MODULE=bench.settings
REDIS_BASE=$(grep '^REDIS_URL=' var/local.env | cut -d= -f2-)
REDIS_BASE=${REDIS_URL:-$REDIS_BASE}
export BENCH_BROKER_URL=${BENCH_BROKER_URL:-${REDIS_BASE%/*}/11}
flush_broker() { "$PY" -c "import redis, os; redis.Redis.from_url(os.environ['BENCH_BROKER_URL']).flushdb()"; }

"$PY" manage.py migrate --noinput -v 0 || exit 1
flush_broker
# shellcheck disable=SC2086
"$PY" -m bench.run ${BENCH_ONLY:+--only $BENCH_ONLY} ${BENCH_MERGE:+--merge}
status=$?
flush_broker  # tasks the benchmarks enqueued (sends, media fetches, webhook events): no worker runs them
exit $status
