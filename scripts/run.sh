#!/usr/bin/env bash
# `make run`: services, migrations, demo data, then the web server, a Celery worker,
# Celery beat and the provider sandbox together. Ctrl-C stops everything it started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8025}
PY="$ROOT/.venv/bin/python"

started=$(scripts/services.sh up | tail -n 1)
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "Stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # shellcheck disable=SC2086
  [ -n "$started" ] && scripts/services.sh down $started
}
trap cleanup INT TERM EXIT

export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}
export SANDBOX_URL=${SANDBOX_URL:-http://127.0.0.1:$SANDBOX_PORT}
export DJANGO_SETTINGS_MODULE=config.settings.base

$PY manage.py migrate --noinput -v 0
$PY manage.py load_demo

if $PY manage.py help run_sandbox >/dev/null 2>&1; then
  $PY manage.py run_sandbox --port "$SANDBOX_PORT" & pids+=($!)
fi
$PY -m celery -A config worker -Q default,sync,send,hooks -c 2 -l info -n "worker@%h" & pids+=($!)
$PY -m celery -A config beat -l info -s "$ROOT/var/celerybeat-schedule" & pids+=($!)
$PY manage.py runserver "127.0.0.1:$PORT" --noreload & pids+=($!)

# The banner only once the web server answers (it used to print before it listened).
for _ in $(seq 1 120); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.5
done
cat <<MSG

  Switchboard is running at http://127.0.0.1:$PORT/
  Log in as demo@switchboard.local / switchboard-demo
  Admin: create an operator with  .venv/bin/python manage.py createsuperuser
  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}" || true
