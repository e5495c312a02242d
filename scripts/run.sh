#!/usr/bin/env bash
# `make run` (development) and `make serve` (the stack as deployed, on one machine):
# services, migrations, demo data, then the web server, Celery workers, Celery beat and the
# provider sandbox together. Ctrl-C stops everything it started.
#   scripts/run.sh          runserver (DEBUG on, autoreload off), one worker for every queue
#   scripts/run.sh serve    gunicorn (WEB_CONCURRENCY workers, default = cores), DEBUG off,
#                           static files by whitenoise, one Celery worker per queue
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=${1:-dev}
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8025}
PY="$ROOT/.venv/bin/python"
CORES=$(nproc 2>/dev/null || echo 2)

started=$(scripts/services.sh up | tail -n 1)
pids=()
STOPPING="$ROOT/var/.stopping-$$"
cleanup() {
  trap - INT TERM EXIT
  echo; echo "Stopping…"
  touch "$STOPPING"  # supervised workers are not restarted any more
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$STOPPING"
  # shellcheck disable=SC2086
  [ -n "$started" ] && scripts/services.sh down $started
}
trap cleanup INT TERM EXIT

export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}
export SANDBOX_URL=${SANDBOX_URL:-http://127.0.0.1:$SANDBOX_PORT}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.base}
if [ "$MODE" = serve ]; then export DJANGO_DEBUG=false; fi

$PY manage.py migrate --noinput -v 0
$PY manage.py load_demo

# As a process supervisor would (systemd Restart=always): a Celery worker that dies (losing
# its broker mid-acknowledgement can take its main process down) is started again.
supervise() {
  while [ ! -f "$STOPPING" ]; do
    "$@"
    [ -f "$STOPPING" ] || { echo "[run] $* exited ($?); restarting in 1 s" >&2; sleep 1; }
  done
}

# Without gossip, mingle and heartbeat: they are events between workers that nothing here
# uses (remote control and inspect still work), and every worker paid for every other's.
worker() {  # worker NAME QUEUES CONCURRENCY [NICENESS]
  supervise nice -n "${4:-0}" $PY -m celery -A config worker -Q "$2" -c "$3" -l "${CELERY_LOG_LEVEL:-info}" \
    -n "$1@%h" --without-gossip --without-mingle --without-heartbeat &
  pids+=($!)
}

$PY manage.py run_sandbox --port "$SANDBOX_PORT" & pids+=($!)
if [ "$MODE" = serve ]; then
  $PY manage.py collectstatic --noinput -v 0
  # The web server answers first when the cores are busy: the queues absorb a burst and the
  # workers catch up after it (WORKER_NICE=0 to treat them alike).
  worker send send "${SEND_CONCURRENCY:-$((CORES * 2))}" "${WORKER_NICE:-5}"
  worker hooks hooks "${HOOKS_CONCURRENCY:-1}" "${WORKER_NICE:-5}"
  worker sync sync "${SYNC_CONCURRENCY:-1}" "${WORKER_NICE:-5}"
  worker sync_bulk sync_bulk "${SYNC_BULK_CONCURRENCY:-1}" "${WORKER_NICE:-5}"
  worker default default "${DEFAULT_CONCURRENCY:-1}"
  .venv/bin/gunicorn config.wsgi -b "127.0.0.1:$PORT" -w "${WEB_CONCURRENCY:-$CORES}" \
    -k gthread --threads "${WEB_THREADS:-4}" --timeout 30 --graceful-timeout 10 \
    --access-logfile "${ACCESS_LOG:--}" & pids+=($!)
else
  worker worker default,sync,sync_bulk,send,hooks 2
  $PY manage.py runserver "127.0.0.1:$PORT" --noreload & pids+=($!)
fi
$PY -m celery -A config beat -l info -s "$ROOT/var/celerybeat-schedule" & pids+=($!)

# The banner once the web server answers, not before.
for _ in $(seq 150); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.2
done
cat <<MSG

  Switchboard is running at http://127.0.0.1:$PORT/  ($MODE)
  Log in as demo@switchboard.local / switchboard-demo
  Admin: create an operator with  .venv/bin/python manage.py createsuperuser
  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}" || true
