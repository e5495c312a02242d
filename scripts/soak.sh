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

# shellcheck source=scripts/stack-env.sh
. "$ROOT/scripts/stack-env.sh"
stack_env "${SOAK_DB_NAME:-switchboard_soak}" 12

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
flush_broker
exit $status
