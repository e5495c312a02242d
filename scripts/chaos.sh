#!/usr/bin/env bash
# `make chaos`: services, a fresh dedicated database (switchboard_chaos_soak), then the
# sandbox server, gunicorn, two Celery workers (sends; everything else) and beat, all on
# 127.0.0.1 and free ports; bench/chaos.py sends through the API while it kills workers and
# crashes Postgres and Redis, then checks the invariants. CHAOS_SECONDS (default 120) of
# traffic or CHAOS_SENDS requests, whichever ends first, from CHAOS_CLIENTS clients (1); a
# fault every CHAOS_EVERY seconds (default 8). Exit status 0 only if all hold.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
LOGS="$ROOT/var/chaos"
mkdir -p "$LOGS"

started=$(scripts/services.sh up | tail -n 1) || exit 1
pids=()
STOPPING="$LOGS/.stopping"
rm -f "$STOPPING"
cleanup() {
  trap - INT TERM EXIT
  touch "$STOPPING"  # supervised workers are not restarted any more
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  # The chaos restarts Postgres and Redis: stop what this run started, whoever restarted it.
  # shellcheck disable=SC2086
  [ -n "$started" ] && scripts/services.sh down $started
}
trap cleanup INT TERM EXIT

# As a process supervisor would (systemd Restart=always): a Celery worker that dies (a broker
# crash can take its main process down) is started again.
supervise() {  # supervise LOG COMMAND...
  local log=$1; shift
  while [ ! -f "$STOPPING" ]; do
    "$@" >>"$log" 2>&1
    [ -f "$STOPPING" ] || { echo "[supervise] $* exited ($?); restarting" >>"$log"; sleep 1; }
  done
}

# shellcheck source=scripts/stack-env.sh
. "$ROOT/scripts/stack-env.sh"
stack_env "${CHAOS_DB_NAME:-switchboard_chaos_soak}" 13
# A lost task (Redis crashed with it) is found by the sweeper within seconds, not minutes.
export SEND_SWEEP_SECONDS=${SEND_SWEEP_SECONDS:-10} SEND_QUEUED_STALE_SECONDS=${SEND_QUEUED_STALE_SECONDS:-20}
# A send whose worker died mid-attempt (the provider answers within 3 s here) is settled soon.
export SEND_SENDING_STALE_SECONDS=${SEND_SENDING_STALE_SECONDS:-30}

"$PY" manage.py run_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --emit-every 0 --rescan-every 2 \
  >"$LOGS/sandbox.log" 2>&1 & pids+=($!)
"$ROOT/.venv/bin/gunicorn" config.wsgi -b "127.0.0.1:$WEB_PORT" -w 2 -k gthread --threads 4 --timeout 30 \
  >"$LOGS/web.log" 2>&1 & pids+=($!)
: >"$LOGS/worker-send.log"; : >"$LOGS/worker-other.log"
supervise "$LOGS/worker-send.log" "$PY" -m celery -A config worker -Q send -c 2 -l info -n "chaos-send@%h" & pids+=($!)
send_worker=$!
supervise "$LOGS/worker-other.log" "$PY" -m celery -A config worker -Q default,sync,sync_bulk,hooks -c 2 -l info \
  -n "chaos-other@%h" & pids+=($!)
other_worker=$!
"$PY" -m celery -A config beat -l info -s "$LOGS/celerybeat-schedule" >"$LOGS/beat.log" 2>&1 & pids+=($!)
wait_port "$SANDBOX_PORT" sandbox
wait_port "$WEB_PORT" "web server"

"$PY" -m bench.chaos --seconds "${CHAOS_SECONDS:-120}" --chaos-every "${CHAOS_EVERY:-8}" \
  --sends "${CHAOS_SENDS:-1000000}" --clients "${CHAOS_CLIENTS:-1}" \
  --worker-pids "$send_worker" "$other_worker" --web-url "http://127.0.0.1:$WEB_PORT" ${CHAOS_OUT:+--out "$CHAOS_OUT"}
status=$?
flush_broker 2>/dev/null
exit $status
