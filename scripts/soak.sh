#!/usr/bin/env bash
# `make soak`: services, a fresh dedicated database (switchboard_soak), then the sandbox
# server, a Celery worker and beat, and a web server for webhooks, all on 127.0.0.1 and free
# ports; bench/soak.py drives traffic under injected faults for SOAK_MINUTES (default 10)
# and checks the invariants. Exit status 0 only if they all hold.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
MINUTES=${SOAK_MINUTES:-10}
LOGS="$ROOT/var/soak"
mkdir -p "$LOGS"

started=$(scripts/services.sh up | tail -n 1) || exit 1
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  # shellcheck disable=SC2086
  [ -n "$started" ] && scripts/services.sh down $started
}
trap cleanup INT TERM EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {  # wait_port PORT NAME: up to 30 s
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "$2 did not start on port $1; see $LOGS" >&2; exit 1
}

DATABASE_URL=$("$PY" -m bench.db "${SOAK_DB_NAME:-switchboard_soak}" 2>/dev/null) || { echo "could not create the soak database" >&2; exit 1; }
SANDBOX_PORT=$(free_port)
WEB_PORT=$(free_port)
REDIS_BASE=$(grep '^REDIS_URL=' var/local.env | cut -d= -f2-)
REDIS_BASE=${REDIS_URL:-$REDIS_BASE}
export DATABASE_URL DJANGO_SETTINGS_MODULE=bench.soak_settings
export SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT" PUBLIC_BASE_URL="http://127.0.0.1:$WEB_PORT"
export SOAK_BROKER_URL=${SOAK_BROKER_URL:-${REDIS_BASE%/*}/12}
"$PY" -c "import redis, os; redis.Redis.from_url(os.environ['SOAK_BROKER_URL']).flushdb()"
"$PY" manage.py migrate --noinput -v 0 || exit 1

"$PY" manage.py run_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --emit-every 5 --rescan-every 2 \
  >"$LOGS/sandbox.log" 2>&1 & pids+=($!)
"$ROOT/.venv/bin/gunicorn" config.wsgi -b "127.0.0.1:$WEB_PORT" -w 2 --timeout 30 \
  >"$LOGS/web.log" 2>&1 & pids+=($!)
"$PY" -m celery -A config worker -Q default,sync,sync_bulk,send,hooks -c 2 -l warning -n "soak@%h" \
  >"$LOGS/worker.log" 2>&1 & pids+=($!)
worker_pid=$!
"$PY" -m celery -A config beat -l warning -s "$LOGS/celerybeat-schedule" \
  >"$LOGS/beat.log" 2>&1 & pids+=($!)
wait_port "$SANDBOX_PORT" sandbox
wait_port "$WEB_PORT" "web server"

"$PY" -m bench.soak --minutes "$MINUTES" --worker-pid "$worker_pid"
status=$?
"$PY" -c "import redis, os; redis.Redis.from_url(os.environ['SOAK_BROKER_URL']).flushdb()"
exit $status
